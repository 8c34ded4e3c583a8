// fleet/: the ssh command lines and remote shell texts (the real sshd run is fleet_ssh_test.py), and the
// systems file's ssh fields.
#include "fleet/fleet.h"
#include "fleet/slurm.h"

#include <cstdio>
#include <fstream>
#include <gtest/gtest.h>
#include <unistd.h>

#include "core/error.h"
#include "core/text_escape.h"
#include "predict/gpu_spec.h"
#include "predict/systems.h"

namespace vramfit {
namespace {

std::string sh_echo(const std::string& word) {
  // The quoted word through a real /bin/sh: what the remote shell would see.
  const std::string cmd = "printf %s " + shell_quote_always(word);
  std::FILE* p = ::popen(cmd.c_str(), "r");
  std::string out;
  char buf[256];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  ::pclose(p);
  return out;
}

TEST(Fleet, QuotingSurvivesTheShell) {
  for (const std::string w : {"plain", "with space", "it's", "$(rm -rf /)", "`x`", "a\"b", "semi;colon", "'''", ""})
    EXPECT_EQ(sh_echo(w), w) << w;
}

TEST(Fleet, SshArgvIsBatchModeMultiplexedAndEndsWithTheDestination) {
  SshRemote r;
  r.host = "me@desk";
  r.port = 2222;
  r.identity = "~/.ssh/id";
  r.options = {"ProxyJump=gw"};
  fleet::Options o;
  o.connect_timeout_s = 7;
  const auto a = fleet::ssh_argv(r, o, "/tmp/x/0");
  auto has = [&](const std::string& flag, const std::string& value) {
    for (std::size_t i = 0; i + 1 < a.size(); ++i)
      if (a[i] == flag && a[i + 1] == value) return true;
    return false;
  };
  EXPECT_EQ(a.front(), "ssh");
  EXPECT_TRUE(has("-o", "BatchMode=yes"));
  EXPECT_TRUE(has("-o", "ConnectTimeout=7"));
  EXPECT_TRUE(has("-o", "ControlMaster=auto"));
  EXPECT_TRUE(has("-o", "ControlPath=/tmp/x/0"));
  EXPECT_TRUE(has("-p", "2222"));
  EXPECT_TRUE(has("-i", "~/.ssh/id"));
  EXPECT_TRUE(has("-o", "ProxyJump=gw"));
  ASSERT_GE(a.size(), 2u);
  EXPECT_EQ(a[a.size() - 2], "--");  // nothing after it is an option
  EXPECT_EQ(a.back(), "me@desk");
}

TEST(Fleet, RemoteScriptsAreValidShellAndCarryTheSystem) {
  SshRemote r;
  r.host = "h";
  r.workdir = "/srv/it's here";
  const std::string s = fleet::profile_script(r, "desk-3070ti", {"--models", "resnet50", "--vram-limit", "8GiB"});
  EXPECT_NE(s.find("--system-id 'desk-3070ti'"), std::string::npos) << s;
  EXPECT_NE(s.find("--output '.vramfit-fleet/desk-3070ti'"), std::string::npos) << s;
  EXPECT_NE(s.find("VRAMFIT_PROGRESS=lines"), std::string::npos) << s;
  EXPECT_NE(s.find("kill -TERM"), std::string::npos) << s;
  // sh -n parses it without running it.
  const std::string path = ::testing::TempDir() + "/fleet_script.sh";
  std::ofstream(path) << s << "\n";
  EXPECT_EQ(std::system(("sh -n " + path).c_str()), 0) << s;
  std::ofstream(path) << fleet::sync_script(r) << "\n";
  EXPECT_EQ(std::system(("sh -n " + path).c_str()), 0) << fleet::sync_script(r);
  EXPECT_NE(fleet::sync_script(r).find("VRAMFIT_BUILD_ONLY=1 scripts/main"), std::string::npos);
  r.workdir.reset();
  r.vramfit = "/opt/v/bin/vramfit";
  std::ofstream(path) << fleet::locate_script(r) << "\"$V\" --version\n";
  EXPECT_EQ(std::system(("sh -n " + path).c_str()), 0);
  // A missing binary is exit 127 with a sentence, run for real.
  std::ofstream(path) << fleet::locate_script(r) << "echo unreachable\n";
  EXPECT_EQ(WEXITSTATUS(std::system(("sh " + path + " 2>/dev/null").c_str())), 127);
}

TEST(Fleet, StateLineSaysWhereEachHostIs) {
  fleet::HostState s{"desk", "me@desk", fleet::Phase::profiling, "[3/10 0:05] resnet50 fp16"};
  EXPECT_EQ(fleet::state_line(s), "desk (me@desk): profiling [3/10 0:05] resnet50 fp16");
}

class SystemsSsh : public ::testing::Test {
 protected:
  GpuDatabase db = load_gpu_database(std::string(VRAMFIT_SOURCE_DIR) + "/data/gpus.toml");
  std::string write(const std::string& extra) {
    const std::string p = ::testing::TempDir() + "/fleet_systems.toml";
    std::ofstream(p) << "[[system]]\nid = \"desk\"\ngpu = \"RTX 3070 Ti\"\nprimary_use = \"x\"\n" << extra;
    return p;
  }
};

TEST_F(SystemsSsh, FieldsAreReadAndChecked) {
  const SystemsFile f = load_systems(write("host = \"me@desk\"\nport = 2222\nidentity = \"~/.ssh/id\"\n"
                                           "ssh_options = [\"ProxyJump=gw\"]\nworkdir = \"/srv/vramfit\"\n"),
                                     db);
  ASSERT_TRUE(f.systems[0].remote);
  EXPECT_EQ(f.systems[0].remote->host, "me@desk");
  EXPECT_EQ(f.systems[0].remote->port, 2222);
  EXPECT_EQ(f.systems[0].remote->options.size(), 1u);
  EXPECT_EQ(*f.systems[0].remote->workdir, "/srv/vramfit");
  EXPECT_FALSE(load_systems(write(""), db).systems[0].remote);
  auto bad = [&](const std::string& extra, const std::string& needle) {
    try {
      (void)load_systems(write(extra), db);
      ADD_FAILURE() << "expected InvalidInput for " << extra;
    } catch (const InvalidInput& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  bad("workdir = \"/x\"\n", "field 'workdir' needs 'host'");
  bad("host = \"-oProxyCommand=evil\"\n", "must not start with '-'");
  bad("host = \"h\"\nport = 70000\n", "field 'port' must be an integer 1–65535");
  bad("host = \"h\"\nssh_options = [\"NoEquals\"]\n", "Key=Value");
  bad("host = \"h\"\nworkdir = \"/a\"\nvramfit = \"/b\"\n", "not both");
}

TEST_F(SystemsSsh, SlurmArraysOnePerKindOfNodeAndAReportAfterThem) {
  const std::string p = ::testing::TempDir() + "/fleet_slurm.toml";
  std::ofstream(p) << "[[system]]\nid = \"a\"\ngpu = \"L4\"\nprimary_use = \"x\"\npartition = \"gpu\"\ngres = \"gpu:l4:1\"\n\n"
                      "[[system]]\nid = \"b\"\ngpu = \"L4\"\nprimary_use = \"x\"\npartition = \"gpu\"\ngres = \"gpu:l4:1\"\n\n"
                      "[[system]]\nid = \"c\"\ngpu = \"H100\"\nprimary_use = \"x\"\nconstraint = \"h100\"\n\n"
                      "[[system]]\nid = \"d\"\ngpu = \"H100\"\nprimary_use = \"no slurm\"\n";
  const SystemsFile f = load_systems(p, db);
  fleet::SlurmOptions o;
  o.output = "/scratch/vf";
  o.systems_file = p;
  o.vramfit = "/opt/vramfit/bin/vramfit";
  o.profile_args = {"--quick"};
  const fleet::SlurmPlan plan = fleet::slurm_plan(f, o);
  ASSERT_EQ(plan.groups.size(), 2u);  // {a, b} on gpu/l4, {c} on h100; d has no Slurm fields
  EXPECT_EQ(plan.groups[0], (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(plan.groups[1], (std::vector<std::string>{"c"}));
  ASSERT_EQ(plan.files.size(), 4u);
  const std::string& a0 = plan.files[0].text;
  EXPECT_NE(a0.find("#SBATCH --array=0-1\n"), std::string::npos) << a0;
  EXPECT_NE(a0.find("#SBATCH --partition=gpu\n#SBATCH --gres=gpu:l4:1\n"), std::string::npos) << a0;
  EXPECT_NE(a0.find("1) ID='b' ;;"), std::string::npos) << a0;
  EXPECT_NE(a0.find("exec '/opt/vramfit/bin/vramfit' profile '--quick' --system-id \"$ID\" --output '/scratch/vf'/\"$ID\""), std::string::npos) << a0;
  EXPECT_NE(plan.files[1].text.find("#SBATCH --constraint=h100"), std::string::npos);
  EXPECT_NE(plan.files[2].text.find("report --systems"), std::string::npos);
  EXPECT_NE(plan.files[3].text.find("--dependency=afterany$deps report.sbatch"), std::string::npos) << plan.files[3].text;
  for (const auto& file : plan.files) {
    const std::string path = ::testing::TempDir() + "/" + file.name;
    std::ofstream(path) << file.text;
    EXPECT_EQ(std::system(("sh -n " + path).c_str()), 0) << file.name;
  }
  o.output = "/scratch/my folder";
  EXPECT_THROW((void)fleet::slurm_plan(f, o), InvalidInput);
  try {
    std::ofstream(p) << "[[system]]\nid = \"a\"\ngpu = \"L4\"\nprimary_use = \"x\"\ngres = \"gpu:1 --wrap=x\"\n";
    (void)load_systems(p, db);
    ADD_FAILURE() << "a gres with a space was accepted";
  } catch (const InvalidInput& e) {
    EXPECT_NE(std::string(e.what()).find("must be one word"), std::string::npos) << e.what();
  }
  std::ofstream(p) << "[[system]]\nid = \"a\"\ngpu = \"L4\"\nprimary_use = \"x\"\n";
  EXPECT_THROW((void)fleet::slurm_plan(load_systems(p, db), o), InvalidInput);
}

}  // namespace
}  // namespace vramfit
