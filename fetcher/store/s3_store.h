// The s3://bucket/prefix object store: any S3-compatible server (AWS S3, Ceph
// RGW, MinIO, R2, GCS in HMAC mode), over libcurl with SigV4.
//
// Configured the AWS way (see aws_config.h) plus:
//   VOL_S3_ADDRESSING=path|virtual   override path-style / virtual-hosted
//   the retry and timeout knobs of s3_retry.h (VOL_S3_MAX_ATTEMPTS, ...).
// Object "K" lives at s3://bucket/prefix/K.
#ifndef VOL_FETCHER_STORE_S3_STORE_H_
#define VOL_FETCHER_STORE_S3_STORE_H_

#include <memory>
#include <string_view>

#include "absl/status/statusor.h"
#include "fetcher/store/aws_config.h"
#include "fetcher/store/object_store.h"

namespace vol {

// Opens "s3://bucket[/prefix]" with the process environment. Does no network
// I/O: a missing bucket or bad keys show up, clearly worded, on first use.
absl::StatusOr<std::unique_ptr<ObjectStore>> NewS3Store(std::string_view url);

// The same with an explicit environment (tests).
absl::StatusOr<std::unique_ptr<ObjectStore>> NewS3Store(std::string_view url,
                                                        const EnvLookup& env);

}  // namespace vol

#endif  // VOL_FETCHER_STORE_S3_STORE_H_
