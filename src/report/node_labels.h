// report/node_labels.h — a profile's answers as Kubernetes node labels (`vramfit labels`): a Node
// Feature Discovery "features file" (one `name=value` per line), the format NFD's local source reads
// from /etc/kubernetes/node-feature-discovery/features.d/ — the convention NVIDIA's GPU Feature
// Discovery uses to publish GPU facts as labels. A scheduler can then place a pod by what was measured
// (`nodeSelector` / node affinity on, e.g., the max batch of resnet50 at fp16).
//
// Names: feature.node.kubernetes.io/vramfit-<what> (NFD's own namespace, allowed without extra flags).
// Every name and value obeys Kubernetes' label syntax (apimachinery validation: a name part of ≤ 63
// characters [A-Za-z0-9] at both ends and [-_.A-Za-z0-9] between, a prefix that is a DNS subdomain of
// ≤ 253 characters, a value of ≤ 63 characters of the same set or empty); what cannot be written so
// (an id with other characters) is sanitised, never dropped silently: a label that would still be
// invalid is left out and listed in `skipped`.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "report/profile_reader.h"

namespace vramfit {

struct NodeLabels {
  std::vector<std::pair<std::string, std::string>> labels;  // name (with prefix), value
  std::vector<std::string> skipped;                         // why a label was left out
};

inline constexpr const char* kNodeLabelPrefix = "feature.node.kubernetes.io/";

// Labels from one profile: the card, its measured context overhead, the date, and per row the max
// batch (vision) or the max context at batch 1 and decode tokens/s (LLMs). Rows that did not run
// (oom, unsupported, error) get value 0 for their maximum, so "does not fit" is a label too.
NodeLabels node_labels(const ProfileFile& p);
// The features file: a comment header, then name=value lines.
std::string node_labels_text(const NodeLabels& l, const std::string& source);
// Kubernetes' rules, used by node_labels to check what it writes (and by the tests, with their own
// regular expressions beside it).
bool valid_label_name(const std::string& name);
bool valid_label_value(const std::string& value);
// Lower case, every character outside [a-z0-9.-] replaced by '-', runs of '-' squeezed, trimmed to
// alphanumeric ends and to `max` characters.
std::string label_token(const std::string& text, std::size_t max = 63);

}  // namespace vramfit
