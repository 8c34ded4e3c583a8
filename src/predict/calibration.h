// predict/calibration.h — what one GPU measured, as the time model's input (predict/time_model.h),
// and where it came from (card, driver, date, commit).
//
// Three sources, one struct:
//   - a calibration file (data/calibration/*.json, "schema": "vramfit-calibration"): what vramfit ships,
//     written by scripts/calibrate from a gpu-check's profile, with provenance and the cross-card check's
//     measured errors;
//   - a `vramfit run -o json` file (rows of model, precision, batch, latency_ms.median);
//   - a profile (report/ reads profile.json and fills the same struct: report/summary.cpp).
// fit_calibration() turns the measurements into the fitted TimeModel once; estimate_latency and the
// LLM estimates read it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "predict/gpu_spec.h"
#include "predict/time_model.h"

namespace vramfit {

struct CalibrationPoint {
  std::string model;
  Precision precision = Precision::fp32;
  std::int64_t batch = 1;
  double measured_ms = 0;
  double roofline_ms = 0;
  double efficiency = 0;  // roofline_ms / measured_ms
};

// What scripts/cross-card measured for this calibration: its estimates for another card against that
// card's measurements (|predicted − measured| / measured). Printed beside ≈ cells so a reader knows how
// far to trust them.
struct CrossCardCheck {
  std::string predicted_card;  // the card whose measurements were predicted
  std::string date;
  std::string record;  // bench/results/… with the per-configuration table
  std::optional<double> vision_median, vision_worst;  // batch ≥ 8
  std::optional<double> vision_batch1_median;
  std::optional<double> llm_median;  // decode and prefill tokens/s at batch 1
  std::string text() const;          // "H200: vision median 12 % (worst 40 %), batch 1 9 %, LLM 7 %"
};

struct Calibration {
  std::string profile_path;  // the file the measurements were read from
  std::string device;        // the device text it names
  GpuSpec gpu;               // the database entry it matched
  std::string driver, date, commit;  // provenance, when the file records it
  std::vector<CalibrationPoint> points;
  std::vector<LlmSample> llm;
  std::vector<GemvSample> gemv;
  std::vector<CrossCardCheck> checks;
  std::vector<std::string> skipped;  // rows not used, with why
  double geomean_efficiency = 0;
  // The CUDA context and library handles measured on the profiled card, when the source records it:
  // replaces default_context_overhead() when planning for that same card.
  std::optional<std::uint64_t> context_bytes;
  // Fitted by fit_calibration(); shared so that copies of a Calibration share one fit.
  std::shared_ptr<const TimeModel> model;

  // "H100 SXM (driver 580.159.04, 2026-12-08, commit 8b0032c)"
  std::string provenance() const;
};

// Roofline efficiencies of the points, their geometric mean, and the time model. InvalidInput when
// there is no usable point.
void fit_calibration(Calibration& c);

// Reads a calibration file or a `vramfit run -o json` file and fits it. The device is matched to the
// database by its name (the text before " ("). A broken file, a device not in the database, or no
// usable row → InvalidInput naming the file and the field.
Calibration load_calibration(const std::filesystem::path& file, const GpuDatabase& db);

// The calibration vramfit ships: $VRAMFIT_CALIBRATION if set (a file; "none" for no calibration), else
// the newest (by its "date") data/calibration/*.json in `data_dir`. nullopt when there is none.
std::optional<std::filesystem::path> default_calibration_file(const std::filesystem::path& data_dir);

struct Efficiency {
  double value = 0.5;
  std::string source;  // "default 0.5" / "calibrated: resnet50 fp16 b256 on H200 (file)"
};
// Without a time model: the measured point of the same model, precision and nearest batch (log
// scale), else the model's geometric mean, else all points'.
Efficiency efficiency_for(const Calibration* c, const std::string& model, Precision p, std::int64_t batch);

}  // namespace vramfit
