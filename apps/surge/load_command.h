// surge load: the open-loop load generator (drill::RunLoad) as a command.
#pragma once

namespace surge::cli {

// Exit status: 0 when the run completed and (if asked) verification passed, 1 when it could not
// run or verification failed, 2 for bad usage.
int RunLoadCommand(int argc, char** argv);

}  // namespace surge::cli
