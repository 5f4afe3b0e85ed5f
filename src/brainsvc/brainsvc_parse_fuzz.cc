// Fuzzes what reaches the brain from outside: the event log's records (from disk), POST
// /v1/events bodies, query strings and dates. None may crash; a record that decodes encodes to
// bytes that decode to a record encoding to the same bytes (varints may be written longer than
// the encoder writes them, so the input itself may differ).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "brainsvc/brainsvc.h"
#include "common/assert.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace surge::brainsvc;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  surge::Result<LogRecord> record = DecodeLogRecord(input);
  if (record.ok()) {
    std::string once, twice;
    EncodeLogRecord(*record, &once);
    surge::Result<LogRecord> decoded = DecodeLogRecord(once);
    SURGE_ASSERT(decoded.ok());
    EncodeLogRecord(*decoded, &twice);
    SURGE_ASSERT(once == twice);
  }
  surge::Result<std::vector<surge::brain::Event>> events = ParseEventsBody(input, 5);
  if (events.ok()) {
    // Whatever parses must be loggable (EncodeLogRecord asserts it).
    LogRecord posted;
    posted.events = std::move(events).value();
    std::string bytes;
    EncodeLogRecord(posted, &bytes);
  }
  (void)ParseQuery(input, {"user", "k", "sku"});
  (void)ParseDate(input);
  return 0;
}
