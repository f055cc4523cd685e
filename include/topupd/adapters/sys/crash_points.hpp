// Crash points for the crash-injection tests (tests/crash): named places on the
// top-up path where the process can be made to die at once, as a power cut or an OOM
// kill would, to prove that no such death moves money twice or loses a top-up.
//
// TOPUPD_CRASH_AT=NAME:N makes the process SIGKILL itself the N-th time it reaches
// NAME (N defaults to 1). Unset — always in production — a crash point is one
// comparison of a cached pointer.
#pragma once

namespace topupd::adapters {

void crash_point(const char* name);

// Every name the code defines, for the harness and the README.
extern const char* const kCrashPoints[];

}  // namespace topupd::adapters
