// libFuzzer target: ParseInvoices on arbitrary bytes (after the header, so that the fuzzer
// reaches the rows) never crashes, and what it accepts aggregates into a sane daily series.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>

#include "brain/brain.h"
#include "common/assert.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text = "InvoiceNo,InvoiceDate,CustomerID,Country,Quantity,UnitPrice\n";
  // Half of the inputs are taken raw (the header too can be wrong).
  if (size > 0 && data[0] % 2 == 0) text.clear();
  text.append(reinterpret_cast<const char*>(data), size);
  auto invoices = surge::brain::ParseInvoices(text);
  if (!invoices.ok()) {
    SURGE_ASSERT(invoices.status().message().rfind("line ", 0) == 0);
    return 0;
  }
  for (const auto& invoice : *invoices) {
    SURGE_ASSERT(invoice.minute >= 0 && invoice.minute < 24 * 60);
    SURGE_ASSERT(std::isfinite(invoice.unit_price));
    SURGE_ASSERT(invoice.quantity >= -1'000'000'000 && invoice.quantity <= 1'000'000'000);
  }
  const auto demand = surge::brain::AggregateDaily(*invoices);
  SURGE_ASSERT(demand.units.size() == demand.orders.size());
  // A year-2999 invoice next to a 1970 one would make a long series; it stays bounded by the
  // parser's date range (about 376,000 days).
  SURGE_ASSERT(demand.days() <= 400'000);
  for (const auto& bulk : demand.bulk_units) SURGE_ASSERT(bulk.size() == demand.days());
  for (size_t d = 0; d < demand.days(); ++d) {
    SURGE_ASSERT(demand.units[d] >= 0 && demand.orders[d] >= 0);
    SURGE_ASSERT((demand.units[d] == 0) == (demand.orders[d] == 0));
    // Each bulk size's units are part of the day's, and a larger size's part of a smaller's.
    double above = demand.units[d];
    for (const auto& bulk : demand.bulk_units) {
      SURGE_ASSERT(bulk[d] >= 0 && bulk[d] <= above);
      above = bulk[d];
    }
  }
  return 0;
}
