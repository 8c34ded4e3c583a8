// report/devices_report.h without a GPU: the document `vramfit devices` builds, as Markdown and CSV.
#include <gtest/gtest.h>

#include <sstream>

#include "report/devices_report.h"

using namespace vramfit;

namespace {

nlohmann::json sample() {
  nlohmann::json j;
  j["schema_version"] = 1;
  j["software"] = {{"cudnn", "cuDNN 9.14.0"}, {"cudnn_path", "/usr/lib/libcudnn.so.9"}, {"cublaslt", "cuBLASLt 12.9"},
                   {"cuda", "CUDA runtime 12.9"}, {"driver", "580.65"}, {"nvml", "loaded"}};
  nlohmann::json d = {{"ordinal", 0}, {"name", "NVIDIA H200, \"SXM\""}, {"pci_bus_id", "0000:1A:00.0"}, {"compute_capability", "9.0"},
                      {"sms", 132}, {"total_bytes", 150754820096ull}, {"free_bytes", 150000000000ull}, {"clock_khz", 1980000},
                      {"memory_clock_khz", 3201000}, {"memory_bus_bits", 6144}, {"l2_bytes", 62914560}, {"context_bytes", 532676608},
                      {"handles_bytes", 8388608}, {"summary", "NVIDIA H200 (sm_90, 132 SMs, 140.4 GiB)"}};
  j["devices"].push_back(d);
  d["ordinal"] = 1;
  d["clocks"] = {{"sm_mhz", 345}, {"mem_mhz", 3201}, {"max_sm_mhz", 1980}, {"max_mem_mhz", 3201}, {"event_reasons", 1},
                 {"event_reasons_text", "idle"}};
  d["temperature_c"] = 31;
  j["devices"].push_back(d);
  return j;
}

TEST(DevicesReport, MarkdownHasTheSoftwareAndOneRowPerGpu) {
  const std::string md = devices_markdown(sample());
  EXPECT_NE(md.find("- cuDNN 9.14.0\n"), std::string::npos) << md;
  EXPECT_NE(md.find("NVIDIA driver 580.65 (NVML)"), std::string::npos) << md;
  EXPECT_NE(md.find("| GPU |"), std::string::npos) << md;
  EXPECT_NE(md.find("SM 345 of 1980 MHz"), std::string::npos) << md;
  EXPECT_NE(md.find("31 °C"), std::string::npos) << md;
}

TEST(DevicesReport, CsvHasAHeaderAndOneQuotedRowPerGpu) {
  const std::string csv = devices_csv(sample());
  std::istringstream in(csv);
  std::string line;
  std::vector<std::string> lines;
  while (std::getline(in, line)) lines.push_back(line);
  ASSERT_EQ(lines.size(), 3u) << csv;
  EXPECT_EQ(lines[0].rfind("ordinal,name,pci_bus_id,", 0), 0u) << csv;
  EXPECT_NE(lines[1].find("\"NVIDIA H200, \"\"SXM\"\"\""), std::string::npos) << csv;  // RFC 4180 quoting
  EXPECT_NE(lines[2].find(",345,1980,3201,3201,31,580.65,"), std::string::npos) << csv;
}

TEST(DevicesReport, MissingFieldsPrintEmptyNeverThrow) {
  EXPECT_NO_THROW(devices_markdown(nlohmann::json::object()));
  EXPECT_EQ(devices_csv(nlohmann::json::object()).find('\n'), devices_csv(nlohmann::json::object()).size() - 1);
}

}  // namespace
