// Finding an installed program, for the tests that start real servers (nats-server, etcd).
#pragma once

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace surge {

// The path of the executable `name`: the first on PATH, else in the directories Debian installs
// programs to (its sbin ones are not on every user's PATH). Empty if there is none.
inline std::string FindProgram(std::string_view name) {
  std::vector<std::string> directories;
  if (const char* path = std::getenv("PATH")) {
    const std::string all = path;
    for (size_t start = 0; start <= all.size();) {
      const size_t end = std::min(all.find(':', start), all.size());
      directories.push_back(all.substr(start, end - start));
      start = end + 1;
    }
  }
  for (const char* extra : {"/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin"}) {
    directories.push_back(extra);
  }
  for (const std::string& directory : directories) {
    const std::string candidate = directory + "/" + std::string(name);
    if (!directory.empty() && access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

}  // namespace surge
