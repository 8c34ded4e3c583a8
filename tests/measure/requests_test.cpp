// measure/requests.h: the worker protocol's requests and their JSON (also the journal's keys).
#include <gtest/gtest.h>

#include "core/error.h"
#include "measure/requests.h"

using namespace vramfit;
using namespace vramfit::measure;

TEST(Requests, EachKindWritesOnlyTheFieldsThatApply) {
  VisionRequest r;
  r.kind = "device";
  r.vram_limit = 8ull << 30;
  EXPECT_EQ(to_json(r).dump(), R"({"device":0,"kind":"device","reserve":0,"vram_limit":8589934592})");
  r.kind = "probe";
  r.model = "resnet50";
  r.precision = Precision::fp16;
  r.batch = 64;
  const nlohmann::json probe = to_json(r);
  EXPECT_FALSE(probe.contains("streams"));  // one stream: absent, so earlier journals' keys still match
  EXPECT_FALSE(probe.contains("warmup"));
  r.streams = 4;
  EXPECT_EQ(to_json(r)["streams"], 4);
  r.kind = "measure";
  r.time_budget_s = 0.5;
  const nlohmann::json m = to_json(r);
  EXPECT_EQ(m["warmup"], 10);
  EXPECT_EQ(m["iterations"], 50);
  EXPECT_EQ(m["time_budget_s"], 0.5);
}

TEST(Requests, RoundTrip) {
  VisionRequest r;
  r.kind = "measure";
  r.model = "vit-b16";
  r.precision = Precision::bf16;
  r.batch = 256;
  r.streams = 3;
  r.seed = 7;
  r.time_budget_s = 0.25;
  const VisionRequest back = vision_request(to_json(r));
  EXPECT_EQ(to_json(back), to_json(r));
  LlmRequest l;
  l.measure = "speed";
  l.model = "llama-7b";
  l.precision = Precision::q4_k_m;
  l.context = 512;
  l.decode_steps = 128;
  l.prefill_tokens = 511;
  const nlohmann::json lj = to_json(l);
  EXPECT_EQ(lj["kind"], "llm");
  EXPECT_EQ(to_json(llm_request(lj)), lj);
  l.measure = "fit";
  EXPECT_FALSE(to_json(l).contains("prefill_tokens"));
}

TEST(Requests, AMissingOrMalformedFieldIsNamed) {
  auto what = [](const nlohmann::json& j) {
    try {
      vision_request(j);
    } catch (const InvalidInput& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_NE(what({{"kind", "probe"}, {"vram_limit", nullptr}, {"precision", "fp16"}, {"batch", 1}}).find("\"model\""), std::string::npos);
  EXPECT_NE(what({{"kind", "probe"}, {"vram_limit", nullptr}, {"model", "resnet50"}, {"precision", "fp16"}, {"batch", "many"}}).find("\"batch\""),
            std::string::npos);
  EXPECT_NE(what({{"kind", "device"}}).find("vram_limit"), std::string::npos);
  EXPECT_THROW(llm_request({{"measure", "guess"}, {"vram_limit", nullptr}}), InvalidInput);
}
