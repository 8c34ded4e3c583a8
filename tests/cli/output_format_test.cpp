// One output flag for every printing command (#15): models, plan, devices and report take
// -o/--format md|json|csv (md the default; report's -o stays its output file, so it takes --format),
// --json stays an alias of -o json where it existed, and a bad format is exit status 2 naming the flag.
#include <gtest/gtest.h>

#include "run_binary.h"
#include <nlohmann/json.hpp>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

namespace {

using cli_test::Result;

// stdout only, or with `with_stderr` both (where the error message is the point).
Result run(const std::string& args, bool with_stderr = false) { return cli_test::run_vramfit(args, with_stderr); }


// RFC 4180 records: quoted fields may hold commas, doubled quotes and newlines.
std::vector<std::vector<std::string>> parse_csv(const std::string& text) {
  std::vector<std::vector<std::string>> rows(1);
  std::string field;
  bool quoted = false, any = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') field += '"', ++i;
      else if (c == '"') quoted = false;
      else field += c;
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      rows.back().push_back(field), field.clear();
    } else if (c == '\n') {
      rows.back().push_back(field), field.clear();
      rows.emplace_back();
    } else {
      field += c;
    }
    any = true;
  }
  if (!field.empty() || (any && !rows.back().empty())) rows.back().push_back(field);
  if (rows.back().empty()) rows.pop_back();
  return rows;
}

void expect_csv_table(const Result& r, std::size_t min_rows, const std::string& first_column) {
  ASSERT_EQ(r.status, 0) << r.out;
  const auto rows = parse_csv(r.out);
  ASSERT_GE(rows.size(), 1 + min_rows) << r.out;
  EXPECT_EQ(rows[0][0], first_column) << r.out;
  for (std::size_t i = 1; i < rows.size(); ++i) EXPECT_EQ(rows[i].size(), rows[0].size()) << "row " << i << " of\n" << r.out;
}

void expect_md_table(const Result& r) {
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("\n|"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("|--"), std::string::npos) << r.out;
}

// A flag naming a file of the source tree (appended piecewise: gcc 12 warns on a chain of + here).
std::string source_file_flag(const char* flag, const char* file) {
  std::string s = flag;
  s += " \"";
  s += VRAMFIT_SOURCE_DIR;
  s += file;
  s += "\"";
  return s;
}
std::string gpus() { return source_file_flag("--gpus", "/data/gpus.toml"); }
std::string systems() { return source_file_flag("--systems", "/data/systems.example.toml"); }

TEST(OutputFormat, ModelsInEveryFormat) {
  expect_md_table(run("models -m resnet50,llama-7b"));
  expect_md_table(run("models -m resnet50 -o md"));
  const Result j = run("models -m resnet50,llama-7b -o json");
  ASSERT_EQ(j.status, 0) << j.out;
  EXPECT_EQ(nlohmann::json::parse(j.out)["models"].size(), 2u);
  EXPECT_EQ(run("models -m resnet50,llama-7b --json").out, j.out);  // the alias
  EXPECT_EQ(run("models -m resnet50,llama-7b --format json").out, j.out);
  expect_csv_table(run("models -m resnet50,llama-7b,vit-b16 -o csv"), 3, "id");
}

TEST(OutputFormat, PlanInEveryFormat) {
  const std::string plan = "plan -m resnet50,vit-b16 -p fp16,fp32 -b 1,8";
  expect_md_table(run(plan));
  const Result j = run(plan + " -o json");
  ASSERT_EQ(j.status, 0) << j.out;
  EXPECT_EQ(nlohmann::json::parse(j.out)["rows"].size(), 8u);
  EXPECT_EQ(run(plan + " --json").out, j.out);
  expect_csv_table(run(plan + " -o csv"), 8, "kind");
  // Every table of the plan in the one CSV: memory rows, the fit under --vram-limit, a card's rows.
  const Result fit = run("plan -m resnet50 -p fp16,bf16 --vram-limit 8GiB -o csv");
  expect_csv_table(fit, 4, "kind");
  EXPECT_NE(fit.out.find("\nfit,resnet50,fp16,"), std::string::npos) << fit.out;
  const Result card = run("plan -m resnet50 --gpu \"RTX 3070 Ti\" -o csv " + gpus());
  expect_csv_table(card, 2, "kind");
  EXPECT_NE(card.out.find("\ngpu,resnet50,fp16,"), std::string::npos) << card.out;
  expect_md_table(run("plan -m resnet50 --gpu \"RTX 3070 Ti\" -o md " + gpus()));
}

TEST(OutputFormat, ReportToStandardOutputInEveryFormat) {
  const std::string report = "report " + systems() + " " + gpus() + " -o -";
  expect_md_table(run(report));
  expect_md_table(run(report + " --format md"));
  const Result j = run(report + " --format json");
  ASSERT_EQ(j.status, 0) << j.out;
  const auto doc = nlohmann::json::parse(j.out);
  EXPECT_EQ(doc["command"], "report");
  EXPECT_NE(doc["command_line"].get<std::string>().find("--format json"), std::string::npos);
  const Result c = run(report + " --format csv");
  expect_csv_table(c, 3, "system_id");
  EXPECT_EQ(parse_csv(c.out)[0].size(), 32u);
}

TEST(OutputFormat, BadFormatIsExit2NamingTheFlagAndTheChoices) {
  for (const std::string cmd : {"models -o xml", "plan -m resnet50 -o xml", "devices -o xml", "models --format yaml", "profile -o xml",
                                "run -m resnet50 -o xml", "llm -m llama-7b -o xml"}) {
    const Result r = run(cmd, true);
    EXPECT_EQ(r.status, 2) << cmd << "\n" << r.out;
    EXPECT_NE(r.out.find("--format"), std::string::npos) << cmd << "\n" << r.out;
    EXPECT_NE(r.out.find("{md,json,csv}"), std::string::npos) << cmd << "\n" << r.out;
  }
  const Result rep = run("report " + systems() + " " + gpus() + " -o - --format xml", true);
  EXPECT_EQ(rep.status, 2) << rep.out;
  EXPECT_NE(rep.out.find("{md,json,csv}"), std::string::npos) << rep.out;
  // --json with another format asks for two.
  const Result both = run("models --json -o csv", true);
  EXPECT_EQ(both.status, 2) << both.out;
  EXPECT_NE(both.out.find("--json and -o csv"), std::string::npos) << both.out;
}

TEST(OutputFormat, HelpOfEveryPrintingCommandSaysSo) {
  for (const std::string cmd : {"models", "plan", "devices"}) {
    const Result r = run(cmd + " --help");
    ASSERT_EQ(r.status, 0) << cmd;
    EXPECT_NE(r.out.find("-o,--format"), std::string::npos) << cmd << "\n" << r.out;
    EXPECT_NE(r.out.find("md (default), json or csv"), std::string::npos) << cmd << "\n" << r.out;
    EXPECT_NE(r.out.find("The same as -o json"), std::string::npos) << cmd << "\n" << r.out;
  }
  for (const std::string cmd : {"profile", "run", "llm"}) {  // no --json alias: they never had one
    const Result p = run(cmd + " --help");
    ASSERT_EQ(p.status, 0) << cmd;
    EXPECT_NE(p.out.find("-o,--format"), std::string::npos) << cmd << "\n" << p.out;
    EXPECT_NE(p.out.find("md (default), json or csv"), std::string::npos) << cmd << "\n" << p.out;
  }
  const Result r = run("report --help");
  ASSERT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("--format"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("md (default), json or csv"), std::string::npos) << r.out;
  // fleet prints the summary it writes; labels has NFD's own file format first, then md, json, csv.
  const Result fl = run("fleet --help");
  EXPECT_NE(fl.out.find("md (default), json or csv"), std::string::npos) << fl.out;
  const Result lb = run("labels --help");
  EXPECT_NE(lb.out.find("features (default: NFD's name=value lines), md, json or csv"), std::string::npos) << lb.out;
}

TEST(OutputFormat, LabelsInEveryFormat) {
  const std::string profile = std::string(VRAMFIT_SOURCE_DIR) + "/bench/results/2026-12-08-h100-profile/profile.json";
  const Result f = run("labels " + profile);
  ASSERT_EQ(f.status, 0) << f.out;
  EXPECT_NE(f.out.find("\nfeature.node.kubernetes.io/vramfit-resnet50-fp16-max-batch=2674\n"), std::string::npos) << f.out;
  const Result j = run("labels " + profile + " -o json");
  EXPECT_EQ(nlohmann::json::parse(j.out)["labels"]["feature.node.kubernetes.io/vramfit-resnet50-fp16-max-batch"], "2674");
  const Result c = run("labels " + profile + " -o csv");
  EXPECT_EQ(c.out.rfind("name,value\n", 0), 0u) << c.out;
  const Result m = run("labels " + profile + " -o md");
  EXPECT_NE(m.out.find("| feature.node.kubernetes.io/vramfit-gpu"), std::string::npos) << m.out;
  EXPECT_EQ(run("labels " + profile + " -o xml", true).status, 2);
  EXPECT_EQ(run("labels /nonexistent/profile.json", true).status, 2);
}

TEST(OutputFormat, DevicesChecksTheFormatThenSaysWhyThereAreNone) {
  // A CPU-only build has no devices to list: the format is checked first, then exit 2 with the reason
  // (the md/csv printers are tested in tests/report/devices_report_test.cpp).
  for (const std::string f : {"md", "json", "csv"}) {
    const Result r = run("devices -o " + f, true);
    if (r.status == 0) continue;  // a CUDA build on a GPU machine
    EXPECT_EQ(r.status, 2) << r.out;
  }
}

}  // namespace
