// What several test files need from their surroundings: the test data directory, synthetic models written once
// per machine and safe under ctest's parallel processes, scratch files of one process, and running a command through
// the shell.
#pragma once

#include <string>

namespace loom::test {

// $LOOM_TEST_DATA_DIR, else tests/data of the source tree.
std::string data_dir();

// The path of a model made by `loom synth` from tests/data/synth/<spec>.toml with every 2-D tensor of `type`
// and `seed`, written on first use into the test temporary directory through a temporary name, so that tests
// running at once in other processes never read a half-written file. A failure to write it fails the test.
std::string synth_model(const std::string& spec, const std::string& type, unsigned seed = 1);

// A path in the test temporary directory that is this process's alone ("loom-<pid>-<name>"): ctest runs each test
// in its own process, several at once, so a fixed name shared by two tests is a race. Removed (a directory with
// everything in it) when the process exits.
std::string scratch_path(const std::string& name);

struct ShellResult {
    int status;       // the exit status, -1 when the command did not exit normally
    std::string out;  // what it printed on stdout (redirect stderr in `cmd` to see it too)
};
ShellResult shell(const std::string& cmd);

}  // namespace loom::test
