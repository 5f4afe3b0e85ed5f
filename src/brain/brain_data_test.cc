// The strict parsers of the outside data sets, and the daily aggregation.
#include "brain/brain.h"
#include "gtest/gtest.h"

namespace surge::brain {
namespace {

TEST(Sequences, ParsesUsersAndRenumbersItems) {
  auto data = ParseSequences("1 10 20 30\n2 20 40\n7 10\n");
  ASSERT_TRUE(data.ok()) << data.status().ToString();
  EXPECT_EQ(data->user_ids, (std::vector<std::string>{"1", "2", "7"}));
  EXPECT_EQ(data->item_ids, (std::vector<std::string>{"10", "20", "30", "40"}));
  ASSERT_EQ(data->sequences.size(), 3u);
  EXPECT_EQ(data->sequences[0], (std::vector<uint32_t>{0, 1, 2}));
  EXPECT_EQ(data->sequences[1], (std::vector<uint32_t>{1, 3}));
  EXPECT_EQ(data->sequences[2], (std::vector<uint32_t>{0}));
  EXPECT_EQ(data->interactions(), 6u);
  // The last line may lack its newline; lines may end in CRLF.
  EXPECT_TRUE(ParseSequences("1 2 3").ok());
  EXPECT_TRUE(ParseSequences("1 2 3\r\n4 5\r\n").ok());
}

void ExpectSequenceError(std::string_view text, std::string_view fragment) {
  auto data = ParseSequences(text);
  ASSERT_FALSE(data.ok()) << "accepted: " << text;
  EXPECT_EQ(data.status().code(), Code::kInvalidArgument);
  EXPECT_NE(data.status().message().find(fragment), std::string::npos) << data.status().message();
}

TEST(Sequences, RejectsBadLinesNamingThem) {
  ExpectSequenceError("", "no users");
  ExpectSequenceError("1 2\n\n3 4\n", "line 2");
  ExpectSequenceError("1 2\n2\n", "line 2: user 2 has no items");
  ExpectSequenceError("1 2\n2 3  4\n", "line 2: field 3");
  ExpectSequenceError("1 2 x\n", "line 1: field 3 'x'");
  ExpectSequenceError("1 -2\n", "line 1");
  ExpectSequenceError("1 02\n", "line 1");
  ExpectSequenceError("1 2\r\r\n", "line 1");
  ExpectSequenceError("1 2 \n", "line 1");
  ExpectSequenceError("1 99999999999999999999\n", "line 1");
  ExpectSequenceError("1 2\n3 4\n1 5\n", "line 3: user 1 already appeared on line 1");
}

constexpr const char* kHeader = "InvoiceNo,InvoiceDate,CustomerID,Country,Quantity,UnitPrice\n";

TEST(Invoices, ParsesRows) {
  const std::string text = std::string(kHeader) +
                           "536365,12/1/2010 8:26,17850,United Kingdom,40,3.91\n"
                           "C536379,12/1/2010 9:41,14527,United Kingdom,-1,27.5\n"
                           "A563186,8/12/2011 14:51,(blank),United Kingdom,1,-11062.06";
  auto invoices = ParseInvoices(text);
  ASSERT_TRUE(invoices.ok()) << invoices.status().ToString();
  ASSERT_EQ(invoices->size(), 3u);
  const Invoice& first = (*invoices)[0];
  EXPECT_EQ(first.number, "536365");
  EXPECT_EQ(first.day, 14944);  // 2010-12-01
  EXPECT_EQ(first.minute, 8 * 60 + 26);
  EXPECT_EQ(first.customer, "17850");
  EXPECT_EQ(first.country, "United Kingdom");
  EXPECT_EQ(first.quantity, 40);
  EXPECT_DOUBLE_EQ(first.unit_price, 3.91);
  EXPECT_FALSE(first.cancellation());
  EXPECT_TRUE((*invoices)[1].cancellation());
  EXPECT_EQ((*invoices)[1].quantity, -1);
  EXPECT_EQ((*invoices)[2].customer, "");
  EXPECT_DOUBLE_EQ((*invoices)[2].unit_price, -11062.06);
}

void ExpectInvoiceError(std::string_view row, std::string_view fragment) {
  auto invoices = ParseInvoices(std::string(kHeader) + std::string(row) + "\n");
  ASSERT_FALSE(invoices.ok()) << "accepted: " << row;
  EXPECT_EQ(invoices.status().code(), Code::kInvalidArgument);
  EXPECT_NE(invoices.status().message().find(fragment), std::string::npos)
      << invoices.status().message();
}

TEST(Invoices, RejectsBadRowsNamingLineAndField) {
  EXPECT_FALSE(ParseInvoices("").ok());
  EXPECT_FALSE(ParseInvoices("InvoiceNo,Date\n").ok());
  ExpectInvoiceError("536365,12/1/2010 8:26,17850,United Kingdom,40", "line 2: expected 6");
  ExpectInvoiceError("536365,12/1/2010 8:26,17850,UK,40,3.91,7", "line 2: more than 6");
  ExpectInvoiceError("53x365,12/1/2010 8:26,17850,UK,40,3.91", "line 2: InvoiceNo");
  ExpectInvoiceError("cX,12/1/2010 8:26,17850,UK,40,3.91", "InvoiceNo");
  ExpectInvoiceError("536365,2/30/2011 8:26,17850,UK,40,3.91", "InvoiceDate '2/30/2011 8:26'");
  ExpectInvoiceError("536365,13/1/2011 8:26,17850,UK,40,3.91", "InvoiceDate");
  ExpectInvoiceError("536365,12/1/2010 24:00,17850,UK,40,3.91", "InvoiceDate");
  ExpectInvoiceError("536365,12/1/2010 8:6,17850,UK,40,3.91", "InvoiceDate");
  ExpectInvoiceError("536365,12/1/2010,17850,UK,40,3.91", "InvoiceDate");
  ExpectInvoiceError("536365,12/1/2010 8:26,abc,UK,40,3.91", "CustomerID 'abc'");
  ExpectInvoiceError("536365,12/1/2010 8:26,17850,,40,3.91", "Country");
  ExpectInvoiceError("536365,12/1/2010 8:26,17850,UK,4.5,3.91", "Quantity '4.5'");
  ExpectInvoiceError("536365,12/1/2010 8:26,17850,UK,+4,3.91", "Quantity");
  ExpectInvoiceError("536365,12/1/2010 8:26,17850,UK,2000000000,3.91", "Quantity");
  ExpectInvoiceError("536365,12/1/2010 8:26,17850,UK,4,1e5", "UnitPrice '1e5'");
  ExpectInvoiceError("536365,12/1/2010 8:26,17850,UK,4,nan", "UnitPrice");
  ExpectInvoiceError("536365,12/1/2010 8:26,17850,UK,4,.5", "UnitPrice");
  ExpectInvoiceError("\"536365\",12/1/2010 8:26,17850,UK,4,1", "InvoiceNo");
}

TEST(Invoices, DailyDemandCountsSalesOnly) {
  const std::string text = std::string(kHeader) +
                           "1,1/3/2011 8:00,1,UK,10,1\n"
                           "2,1/3/2011 9:00,2,UK,5,1\n"
                           "2,1/3/2011 9:01,2,UK,1,1\n"          // the same invoice on two rows
                           "C3,1/3/2011 10:00,1,UK,-4,1\n"       // a cancellation
                           "4,1/4/2011 10:00,(blank),UK,-7,0\n"  // a stock adjustment
                           "5,1/5/2011 10:00,(blank),UK,3,2\n";
  auto invoices = ParseInvoices(text);
  ASSERT_TRUE(invoices.ok()) << invoices.status().ToString();
  const DailyDemand demand = AggregateDaily(*invoices);
  EXPECT_EQ(demand.first_day, 14977);  // 2011-01-03
  EXPECT_EQ(demand.units, (std::vector<double>{16, 0, 3}));
  EXPECT_EQ(demand.orders, (std::vector<double>{2, 0, 1}));
  for (const auto& bulk : demand.bulk_units) EXPECT_EQ(bulk, (std::vector<double>{0, 0, 0}));
  EXPECT_EQ(AggregateDaily({}).days(), 0u);
}

TEST(Invoices, BulkUnitsAreTheInvoicesOfEachSizeOrMoreWithTheirRowsSummed) {
  static_assert(kBulkUnits[0] == 1000 && kBulkUnits[1] == 2000 && kBulkUnits[2] == 5000);
  const std::string text = std::string(kHeader) +
                           "1,1/3/2011 8:00,1,UK,999,1\n"   // just below the smallest size
                           "2,1/3/2011 9:00,2,UK,1500,1\n"  // 1,999 over its two rows
                           "2,1/3/2011 9:01,2,UK,499,1\n"
                           "3,1/4/2011 9:00,2,UK,5000,1\n"
                           "C4,1/4/2011 10:00,1,UK,-9000,1\n";  // cancellations never count
  auto invoices = ParseInvoices(text);
  ASSERT_TRUE(invoices.ok()) << invoices.status().ToString();
  const DailyDemand demand = AggregateDaily(*invoices);
  EXPECT_EQ(demand.units, (std::vector<double>{2998, 5000}));
  EXPECT_EQ(demand.bulk_units[0], (std::vector<double>{1999, 5000}));
  EXPECT_EQ(demand.bulk_units[1], (std::vector<double>{0, 5000}));
  EXPECT_EQ(demand.bulk_units[2], (std::vector<double>{0, 5000}));
}

}  // namespace
}  // namespace surge::brain
