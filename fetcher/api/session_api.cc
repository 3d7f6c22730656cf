// libvol: the session this program runs in — commit and reload of a
// volume's mount by the volume (include/vol/volume.h), and vol_commit /
// vol_reload by mount path (include/vol/vol.h), through the same request to
// the session's fetcher that `vol commit`/`vol reload` and the shim send.
#include <cerrno>
#include <string>

#include "absl/strings/str_cat.h"
#include "fetcher/api/api_error.h"
#include "fetcher/api/api_volume.h"
#include "fetcher/api/session_mounts.h"
#include "fetcher/session/session_client.h"
#include "vol/session.h"
#include "vol/vol.h"
#include "vol/volume.h"

using namespace vol;
using namespace vol::api;

namespace {

// The mount of `v` in this session: ENOTCONN outside one, ENOENT when this
// session did not mount v.
int FindMount(vol_volume* v, SessionMount* out) {
  absl::StatusOr<std::optional<SessionInfo>> session = CurrentSession();
  if (!session.ok()) return Fail(session.status());
  if (!session->has_value()) {
    return Fail(ENOTCONN, "not inside a vol session ($VOL_SESSION is not set)");
  }
  for (const SessionMount& m : (*session)->mounts) {
    if (m.volume_id == v->info.id) {
      *out = m;
      return 0;
    }
  }
  return Fail(ENOENT, absl::StrCat("volume '", v->info.name, "' is not mounted in this session (",
                                   (*session)->dir, ")"));
}

int Call(uint32_t op, const std::string& mount, vol_response* resp) {
  absl::StatusOr<vol_response> r = SessionCall(op, mount);
  if (!r.ok()) {
    int code = absl::IsInvalidArgument(r.status()) ? EINVAL : EIO;
    if (absl::IsFailedPrecondition(r.status())) code = ENOTCONN;
    return Fail(code, std::string(r.status().message()));
  }
  if (resp != nullptr) *resp = *r;
  return 0;
}

}  // namespace

extern "C" {

int vol_session_commit(vol_volume* v, uint64_t* files, uint64_t* bytes) {
  return Guard([&] {
    if (files != nullptr) *files = 0;
    if (bytes != nullptr) *bytes = 0;
    if (v == nullptr) return Fail(EINVAL, "vol_session_commit: no volume");
    SessionMount mount;
    if (int rc = FindMount(v, &mount); rc != 0) return rc;
    if (mount.read_only) return 0;  // nothing it can have changed
    vol_response resp;
    if (int rc = Call(VOL_OP_COMMIT, mount.mount, &resp); rc != 0) return rc;
    if (files != nullptr) *files = resp.value[0];
    if (bytes != nullptr) *bytes = resp.value[1];
    return 0;
  });
}

int vol_session_reload(vol_volume* v) {
  return Guard([&] {
    if (v == nullptr) return Fail(EINVAL, "vol_session_reload: no volume");
    SessionMount mount;
    if (int rc = FindMount(v, &mount); rc != 0) return rc;
    return Call(VOL_OP_RELOAD, mount.mount, nullptr);
  });
}

// vol.h's contract: 0, or -1 with errno set.
int vol_commit(const char* mount) {
  int rc = Guard([&] { return Call(VOL_OP_COMMIT, mount != nullptr ? mount : "", nullptr); });
  if (rc == 0) return 0;
  errno = rc;
  return -1;
}

int vol_reload(const char* mount) {
  int rc = Guard([&] { return Call(VOL_OP_RELOAD, mount != nullptr ? mount : "", nullptr); });
  if (rc == 0) return 0;
  errno = rc;
  return -1;
}

}  // extern "C"
