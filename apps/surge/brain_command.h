// surge brain: the brain's evaluation on the public data sets, its full retrain, and the brain
// served inside the platform (serve).
#pragma once

namespace surge::cli {

// `surge brain eval|train|serve [flags]`. Exit status: 0 on success, 1 when the data cannot be read
// or the evaluation fails, 2 for bad usage.
int RunBrainCommand(int argc, char** argv);

}  // namespace surge::cli
