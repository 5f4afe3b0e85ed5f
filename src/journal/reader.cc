// ReadDurable: reading a journal's durable records from outside the thread that owns it.
#include <algorithm>
#include <utility>
#include <vector>

#include "journal/journal.h"
#include "journal/journal_impl.h"
#include "journal/record.h"
#include "journal/segment_reader.h"

namespace surge::journal {

Status ReadDurable(Env& env, const std::string& dir, uint64_t from, uint64_t through,
                   uint32_t record_bytes_max,
                   const std::function<bool(uint64_t, std::string_view)>& visit) {
  from = std::max<uint64_t>(from, 1);
  if (from > through) return Status::Ok();
  SURGE_ASSIGN_OR_RETURN(const std::vector<std::string> names, env.ListDir(dir));
  std::vector<std::pair<uint64_t, std::string>> segments;  // first sequence, path
  for (const std::string& name : names) {
    uint64_t first = 0;
    if (ParseSegmentName(name, &first)) segments.emplace_back(first, JoinPath(dir, name));
  }
  std::sort(segments.begin(), segments.end());
  if (segments.empty() || from < segments.front().first) {
    return Status(Code::kNotFound, "journal record " + std::to_string(from) + " of " + dir +
                                       " is older than the oldest segment kept");
  }
  // The segment holding `from`: the last one starting at or before it.
  const auto after =
      std::upper_bound(segments.begin(), segments.end(), from,
                       [](uint64_t value, const std::pair<uint64_t, std::string>& segment) {
                         return value < segment.first;
                       });
  size_t index = static_cast<size_t>(after - segments.begin()) - 1;  // from >= the first's start
  uint64_t expected = segments[index].first;
  for (; index < segments.size() && expected <= through; ++index) {
    const auto& [first, path] = segments[index];
    if (first != expected) {
      return CorruptionAt(path, 0,
                          "segment starts at sequence " + std::to_string(first) + " but " +
                              std::to_string(expected) + " was expected");
    }
    // The owner may be appending to the last segment: only records through `through` are known
    // to be whole, so reading stops there, and a partial frame after them is not damage.
    Result<uint64_t> size = env.FileSize(path);
    if (!size.ok()) {
      // Removed since it was listed: a snapshot made it unneeded while we read.
      return Status(Code::kNotFound, "journal segment " + path + " was removed while reading");
    }
    SegmentReader reader(env, path, 0, *size, record_bytes_max);
    SegmentReader::Step step;
    for (;;) {
      SURGE_RETURN_IF_ERROR(reader.Next(&step));
      if (step.outcome == SegmentReader::Outcome::kEnd) break;
      if (step.outcome == SegmentReader::Outcome::kDamaged) {
        if (expected > through) break;
        return CorruptionAt(path, step.offset, FrameStatusText(step.damage));
      }
      if (step.frame.sequence != expected) {
        return CorruptionAt(path, step.offset,
                            "record has sequence " + std::to_string(step.frame.sequence) + " but " +
                                std::to_string(expected) + " was expected");
      }
      ++expected;
      if (step.frame.sequence > through) return Status::Ok();
      if (step.frame.sequence >= from && !visit(step.frame.sequence, step.frame.payload)) {
        return Status::Ok();
      }
    }
  }
  if (expected <= through) {
    return Status(Code::kNotFound, "journal " + dir + " ends at sequence " +
                                       std::to_string(expected - 1) + ", before " +
                                       std::to_string(through));
  }
  return Status::Ok();
}

}  // namespace surge::journal
