// `vramfit labels`: every name and value obeys Kubernetes' label syntax, checked with regular
// expressions written from the rules (k8s.io/apimachinery validation: qualified names and label
// values), independent of the implementation's own checks.
#include "report/node_labels.h"

#include <gtest/gtest.h>
#include <regex>
#include <string>
#include <vector>

namespace vramfit {
namespace {

const std::regex kNamePart("^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$");
const std::regex kDnsLabel("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$");
const std::regex kValue("^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$");

bool k8s_name(const std::string& n) {
  const auto slash = n.find('/');
  if (slash == std::string::npos) return std::regex_match(n, kNamePart);
  const std::string prefix = n.substr(0, slash), part = n.substr(slash + 1);
  if (prefix.size() > 253 || !std::regex_match(part, kNamePart)) return false;
  std::size_t s = 0;
  while (true) {
    const auto d = prefix.find('.', s);
    if (!std::regex_match(prefix.substr(s, d == std::string::npos ? std::string::npos : d - s), kDnsLabel)) return false;
    if (d == std::string::npos) return true;
    s = d + 1;
  }
}

TEST(NodeLabels, TheRecordedH100ProfileGivesValidLabels) {
  const ProfileFile p = read_profile(std::string(VRAMFIT_SOURCE_DIR) + "/bench/results/2026-12-08-h100-profile/profile.json");
  const NodeLabels l = node_labels(p);
  EXPECT_TRUE(l.skipped.empty());
  ASSERT_GT(l.labels.size(), 15u);
  for (const auto& [name, value] : l.labels) {
    EXPECT_TRUE(k8s_name(name)) << name;
    EXPECT_TRUE(std::regex_match(value, kValue)) << name << "=" << value;
    EXPECT_LE(value.size(), 63u);
    EXPECT_EQ(name.rfind("feature.node.kubernetes.io/vramfit-", 0), 0u) << name;
  }
  auto value_of = [&](const std::string& what) {
    std::string want = kNodeLabelPrefix;
    want += "vramfit-";
    want += what;
    for (const auto& [n, v] : l.labels)
      if (n == want) return v;
    return std::string("(absent)");
  };
  EXPECT_EQ(value_of("gpu"), "nvidia-h100-80gb-hbm3");
  EXPECT_EQ(value_of("resnet50-fp32-max-batch"), "1338");  // the profile's confirmed maximum
  EXPECT_EQ(value_of("llama-7b-fp16-max-context"), "0");   // does not fit 8 GiB: a label too
  EXPECT_EQ(value_of("llama-7b-q4-k-m-max-context"), "4096");
  EXPECT_EQ(value_of("llama-7b-int4-decode-tps"), "428");
  EXPECT_EQ(value_of("emulated-vram"), "8gib");
  const std::string text = node_labels_text(l, "profile.json");
  EXPECT_NE(text.find("\nfeature.node.kubernetes.io/vramfit-resnet50-fp16-max-batch="), std::string::npos) << text;
}

TEST(NodeLabels, TheValidatorsAgreeWithTheRules) {
  for (const std::string& good : std::vector<std::string>{"a", "feature.node.kubernetes.io/vramfit-x", "nvidia.com/gpu.product", std::string(63, 'a')}) {
    EXPECT_TRUE(valid_label_name(good)) << good;
    EXPECT_EQ(valid_label_name(good), k8s_name(good)) << good;
  }
  for (const std::string& bad : std::vector<std::string>{"", "-a", "a-", "a/b/c", "Upper.Case/x", "x/" + std::string(64, 'a'), std::string(64, 'a'),
                                "bad prefix/x", "a..b/c"}) {
    EXPECT_FALSE(valid_label_name(bad)) << bad;
    EXPECT_EQ(valid_label_name(bad), k8s_name(bad)) << bad;
  }
  for (const std::string& v : std::vector<std::string>{"", "1338", "nvidia-h100", "a_b.c", "-x", "x-", std::string(64, '1'), "a b"})
    EXPECT_EQ(valid_label_value(v), std::regex_match(v, kValue)) << v;
  EXPECT_EQ(label_token("NVIDIA GeForce RTX 3070 Ti"), "nvidia-geforce-rtx-3070-ti");
  EXPECT_EQ(label_token("  __weird//id__ "), "weird-id");
  EXPECT_EQ(label_token(std::string(80, 'x')).size(), 63u);
}

}  // namespace
}  // namespace vramfit
