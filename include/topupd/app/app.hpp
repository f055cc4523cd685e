// The topupd program: command-line parsing and the commands it offers.
//
//   topupd [run] --config FILE    run the daemon
//   topupd check --config FILE    validate a config; exit 0 when valid, 1 otherwise
//   topupd --version | --help
#pragma once

namespace topupd::app {

// Exit codes: 0 success, 1 invalid config or failure at run time, 2 usage error.
int main_with_args(int argc, char** argv);

}  // namespace topupd::app
