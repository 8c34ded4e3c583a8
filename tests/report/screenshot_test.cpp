// Headless Chromium renders SUMMARY.html (vramfit report) and a profile's report.html (vramfit
// profile's printer), and the screenshots must not be blank: many non-white pixels, several colours,
// and coloured ones (the SVG charts and the fit grid). scripts/deps installs Debian's `chromium`;
// where it is missing this test fails (it must not pass silently in CI).
#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdlib>
#include <set>

#include "fixtures.h"
#include "predict/systems.h"
#include "report/profile_printers.h"
#include "report/summary.h"
#include "report/summary_printers.h"

using namespace vramfit;
using namespace vramfit::test;

namespace {

std::string find_chromium() {
  if (const char* e = std::getenv("VRAMFIT_CHROMIUM"); e && *e) return e;
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/bin:/bin";
  for (const char* name : {"chromium", "chromium-browser", "google-chrome"}) {
    std::size_t a = 0;
    while (a <= dirs.size()) {
      std::size_t b = dirs.find(':', a);
      if (b == std::string::npos) b = dirs.size();
      const fs::path c = fs::path(dirs.substr(a, b - a)) / name;
      if (!c.parent_path().empty() && ::access(c.c_str(), X_OK) == 0) return c.string();
      a = b + 1;
    }
  }
  return "";
}

struct Image {
  std::uint32_t w = 0, h = 0;
  std::vector<std::uint8_t> rgb;  // 3 bytes per pixel
};

std::uint32_t be32(const std::string& s, std::size_t at) {
  return (std::uint32_t(std::uint8_t(s[at])) << 24) | (std::uint32_t(std::uint8_t(s[at + 1])) << 16) |
         (std::uint32_t(std::uint8_t(s[at + 2])) << 8) | std::uint32_t(std::uint8_t(s[at + 3]));
}

// A PNG (8-bit RGB or RGBA, not interlaced: what Chromium writes) decoded per the PNG specification
// (W3C, 2nd ed.): chunks, zlib-compressed IDAT, one filter byte per scanline (§9: None, Sub, Up,
// Average, Paeth).
Image decode_png(const std::string& f) {
  Image img;
  if (f.size() < 33 || f.compare(0, 8, "\x89PNG\r\n\x1a\n") != 0) throw std::runtime_error("not a PNG");
  std::string idat;
  int color = -1, depth = 0, interlace = 0;
  for (std::size_t p = 8; p + 8 <= f.size();) {
    const std::uint32_t len = be32(f, p);
    const std::string type = f.substr(p + 4, 4);
    if (p + 12 + len > f.size()) throw std::runtime_error("truncated chunk " + type);
    if (type == "IHDR") {
      img.w = be32(f, p + 8);
      img.h = be32(f, p + 12);
      depth = std::uint8_t(f[p + 16]);
      color = std::uint8_t(f[p + 17]);
      interlace = std::uint8_t(f[p + 20]);
    } else if (type == "IDAT") {
      idat += f.substr(p + 8, len);
    } else if (type == "IEND") {
      break;
    }
    p += 12 + len;
  }
  if (depth != 8 || (color != 2 && color != 6) || interlace != 0)
    throw std::runtime_error("unsupported PNG: depth " + std::to_string(depth) + ", colour type " + std::to_string(color));
  const std::size_t bpp = color == 6 ? 4 : 3, stride = img.w * bpp;
  std::vector<std::uint8_t> raw((stride + 1) * img.h);
  uLongf n = static_cast<uLongf>(raw.size());
  if (uncompress(raw.data(), &n, reinterpret_cast<const Bytef*>(idat.data()), static_cast<uLong>(idat.size())) != Z_OK || n != raw.size())
    throw std::runtime_error("IDAT does not inflate to the image size");
  std::vector<std::uint8_t> cur(stride), prev(stride, 0);
  img.rgb.reserve(std::size_t(img.w) * img.h * 3);
  for (std::uint32_t y = 0; y < img.h; ++y) {
    const std::uint8_t* line = raw.data() + y * (stride + 1);
    const int filter = line[0];
    for (std::size_t i = 0; i < stride; ++i) {
      const int a = i >= bpp ? cur[i - bpp] : 0, b = prev[i], c = i >= bpp ? prev[i - bpp] : 0;
      int pred = 0;
      switch (filter) {
        case 0: pred = 0; break;
        case 1: pred = a; break;
        case 2: pred = b; break;
        case 3: pred = (a + b) / 2; break;
        case 4: {
          const int p0 = a + b - c, pa = std::abs(p0 - a), pb = std::abs(p0 - b), pc = std::abs(p0 - c);
          pred = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
          break;
        }
        default: throw std::runtime_error("bad filter type " + std::to_string(filter));
      }
      cur[i] = static_cast<std::uint8_t>(line[1 + i] + pred);
    }
    for (std::uint32_t x = 0; x < img.w; ++x)
      for (int k = 0; k < 3; ++k) img.rgb.push_back(cur[x * bpp + static_cast<std::size_t>(k)]);
    std::swap(cur, prev);
  }
  return img;
}

struct PixelStats {
  double non_white = 0, coloured = 0;
  std::size_t colours = 0;
};

PixelStats stats(const Image& img) {
  std::size_t non_white = 0, coloured = 0;
  std::set<int> colours;
  const std::size_t n = std::size_t(img.w) * img.h;
  for (std::size_t i = 0; i < n; ++i) {
    const int r = img.rgb[3 * i], g = img.rgb[3 * i + 1], b = img.rgb[3 * i + 2];
    if (r < 245 || g < 245 || b < 245) ++non_white;
    if (std::max({r, g, b}) - std::min({r, g, b}) > 60) ++coloured;
    colours.insert(((r >> 4) << 8) | ((g >> 4) << 4) | (b >> 4));
  }
  return {static_cast<double>(non_white) / static_cast<double>(n), static_cast<double>(coloured) / static_cast<double>(n), colours.size()};
}

Image screenshot(const fs::path& html, const TempDir& t, const std::string& name) {
  const std::string chromium = find_chromium();
  if (chromium.empty()) throw std::runtime_error("chromium not found (install it with scripts/deps, or set VRAMFIT_CHROMIUM)");
  const fs::path png = t.path() / (name + ".png"), log = t.path() / (name + ".log");
  const std::string cmd = "timeout 180 \"" + chromium + "\" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --hide-scrollbars "
                          "--no-first-run --user-data-dir=\"" + (t.path() / ("chrome-" + name)).string() +
                          "\" --window-size=1200,1600 --screenshot=\"" + png.string() + "\" \"file://" + fs::absolute(html).string() + "\" >\"" +
                          log.string() + "\" 2>&1";
  const int rc = std::system(cmd.c_str());
  if (rc != 0 || !fs::exists(png)) throw std::runtime_error("chromium failed (" + std::to_string(rc) + "): " + read_text(log));
  return decode_png(read_text(png));
}

void expect_not_blank(const Image& img, const std::string& what) {
  const PixelStats s = stats(img);
  EXPECT_EQ(img.w, 1200u) << what;
  EXPECT_EQ(img.h, 1600u) << what;
  EXPECT_GT(s.non_white, 0.03) << what << ": mostly white";
  EXPECT_GT(s.coloured, 0.003) << what << ": no coloured charts";
  EXPECT_GE(s.colours, 12u) << what << ": too few colours";
}

TEST(Screenshot, PngDecoderSeesABlankPageAsBlank) {
  // The check itself can fail: an empty page renders white.
  TempDir t;
  const fs::path html = t.write("blank.html", "<!DOCTYPE html><html><body></body></html>");
  const Image img = screenshot(html, t, "blank");
  const PixelStats s = stats(img);
  EXPECT_LT(s.non_white, 0.001);
  EXPECT_LE(s.colours, 2u);
}

TEST(Screenshot, SummaryHtmlRenders) {
  TempDir t;
  const GpuDatabase db = load_gpu_database(gpus_toml());
  const SystemsFile systems = load_systems(source_dir() / "data" / "systems.example.toml", db);
  auto em = doc("desk-3070ti", "2026-11-28T10:00:00Z", "NVIDIA H200", 8 * GiB, 8 * GiB - 540 * MiB, 540 * MiB);
  em.results.push_back(cell("resnet50", Precision::fp16, em.budget_bytes, em.context_bytes));
  em.results.push_back(cell("vit-b16", Precision::fp32, em.budget_bytes, em.context_bytes, 0));
  SummaryOptions o;
  o.generated = "2026-11-28T12:00:00Z";
  const Summary s = build_summary(systems, db, {read_profile(write_profile(t, "em.json", em))}, o);
  const fs::path html = t.write("SUMMARY.html", summary_html(s));
  expect_not_blank(screenshot(html, t, "summary"), "SUMMARY.html");
}

TEST(Screenshot, ProfileReportHtmlRenders) {
  TempDir t;
  auto d = doc("edge", "2026-11-28T10:00:00Z", "NVIDIA H200", 8 * GiB, 8 * GiB - 540 * MiB, 540 * MiB);
  d.results.push_back(cell("resnet50", Precision::fp32, d.budget_bytes, d.context_bytes));
  d.results.push_back(cell("resnet50", Precision::fp16, d.budget_bytes, d.context_bytes));
  d.results.push_back(cell("vit-b16", Precision::fp16, d.budget_bytes, d.context_bytes));
  const fs::path html = t.write("report.html", profile_html(d));
  expect_not_blank(screenshot(html, t, "profile"), "report.html");
}

}  // namespace
