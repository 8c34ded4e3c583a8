// report/summary_printers.h — views of a Summary (report/summary.h): Markdown for people, HTML with
// inline SVG charts (self-contained: no scripts, no external resources, works offline), JSON for
// programs (schema/summary.schema.json, schema_version) and CSV of the flat table (one row per
// system × model × precision). Printers only format; every number comes from the Summary.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "report/summary.h"

namespace vramfit {

std::string summary_markdown(const Summary& s);
std::string summary_html(const Summary& s);
nlohmann::json to_json(const Summary& s);
std::string summary_csv(const Summary& s);

// The CSV's header, in column order (tests and consumers read it).
const std::vector<std::string>& summary_csv_columns();

}  // namespace vramfit
