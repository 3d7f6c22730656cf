// The times that keep `vol gc` from ever breaking a commit in flight
// (docs/FORMAT.md, "Garbage collection"). Writers and the collector read
// them from here, so the two sides of the protocol cannot drift apart.
//
// The argument, in short. The collector deletes an unreachable chunk or tree
// only when its last-modified time is before its cutoff:
//     cutoff = min(gc start - grace, min over live locks of (created - R - 2C))
// A writer relies on an object only after it (a) uploaded it, or (b) found it
// stored and touched it if it looked older than R; with clocks up to C apart,
// every object a writer relies on was modified at most R + C before. A writer
// that may take longer than W from relying on its first object to its commit
// landing holds a lock (locks/…, refreshed every LockRefreshEvery()) taken
// before its first object. Then:
//   - a writer whose lock the collector saw relied on its objects after it
//     created the lock (less C by the store's clock), so they were modified
//     after created - R - 2C: not before the cutoff;
//   - any other writer's commit either landed before the collector listed
//     the volume's commits (so its objects are marked), or after gc start - C;
//     it relied on its objects after that less W, so they were modified after
//     gc start - (R + W + 2C), which is not before the cutoff as long as
//     grace >= MinSafeGrace() = R + W + 2C.
// C covers the differences between writers', the collector's and the store's
// clocks (S3 refuses requests signed by a clock more than 15 minutes off).
#ifndef VOL_FETCHER_FORMAT_GC_PROTOCOL_H_
#define VOL_FETCHER_FORMAT_GC_PROTOCOL_H_

#include <cstdlib>

#include "absl/time/time.h"

namespace vol::gc_protocol {

// VOL_TEST_GC_TIMESCALE=0.002 shrinks every duration below by that factor, so
// that tests can run the whole protocol against a real store in seconds. Both
// sides of a test must set it; nothing else should.
inline double TimeScale() {
  const char* s = std::getenv("VOL_TEST_GC_TIMESCALE");
  double f = s != nullptr ? std::atof(s) : 0;
  return f > 0 && f <= 1 ? f : 1;
}
inline absl::Duration Scaled(absl::Duration d) { return d * TimeScale(); }

// R: a writer that finds an object stored and older than this touches it.
inline absl::Duration ReuseRefreshAge() { return Scaled(absl::Minutes(20)); }
// C: clocks (writers', collector's, store's) may disagree by this much.
inline absl::Duration ClockAllowance() { return Scaled(absl::Minutes(15)); }
// W: a writer without a lock commits within this long of relying on its first object.
inline absl::Duration UnlockedWriteWindow() { return Scaled(absl::Minutes(10)); }
// The shortest grace period with which a collector cannot break any commit: 1 hour.
inline absl::Duration MinSafeGrace() {
  return ReuseRefreshAge() + UnlockedWriteWindow() + 2 * ClockAllowance();
}
// How far before a live lock's creation the collector keeps everything.
inline absl::Duration LockShadow() { return ReuseRefreshAge() + 2 * ClockAllowance(); }

// Locks: refreshed this often; a writer whose refreshes stopped for
// LockLapse() no longer commits; a collector ignores (and removes) a lock not
// refreshed for LockStale(), which is LockLapse() plus two clock allowances.
inline absl::Duration LockRefreshEvery() { return Scaled(absl::Minutes(5)); }
inline absl::Duration LockLapse() { return Scaled(absl::Minutes(15)); }
inline absl::Duration LockStale() { return LockLapse() + 2 * ClockAllowance(); }

// Files under tmp/ (a file store's uploads in progress) younger than this are
// never removed, whatever the grace: an upload writes its temporary file for
// milliseconds, so an hour-old one belongs to a killed writer.
inline absl::Duration TempFileAge() { return Scaled(absl::Hours(1)); }

}  // namespace vol::gc_protocol

#endif  // VOL_FETCHER_FORMAT_GC_PROTOCOL_H_
