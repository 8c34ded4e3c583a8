// core/output_set.h — every file a command writes goes through one OutputSet, so "nothing is lost"
// (DESIGN rule 6) holds for the set, not just for each file:
//
//   OutputSet out;
//   out.add_input(systems_path);                 // files the command reads
//   auto md = out.add_output(o.output, "-o");    // files it writes ("-" = standard output)
//   out.check();                                 // before any work: refuse bad targets (InvalidInput)
//   …work…
//   out.put(md, text);
//   out.commit();                                // all written and renamed, or none touched
//
// check() refuses, naming the path and why: a target that exists and is not a regular file (a device
// such as /dev/full, a FIFO, a folder, a socket — renaming over it would replace the node, writing to
// it would block or vanish), a path under something that is not a folder, an output that is one of
// the inputs (same device and inode where the file exists, else the same normalised absolute path),
// two outputs that are one file, and more than one "-". A symbolic link to a regular file is followed:
// the file it points to is replaced and the link stays (users keep SUMMARY.md -> docs/SUMMARY.md);
// a link to anything else, or to nothing, is refused like its target.
//
// commit() writes each file to a temporary beside its target (same folder, unique name, O_EXCL),
// flushes it to disk (fsync), writes standard output, and only then renames every temporary over its
// target and flushes the folders. If any write fails, every temporary (and every folder commit made) is
// removed and no target is touched.
//
// A folder missing on the way to a target is refused by check() unless the set was made with
// MissingFolders::make (`report -o out/SUMMARY.md`), where commit() creates it.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace vramfit {

enum class MissingFolders { refuse, make };

class OutputSet {
 public:
  explicit OutputSet(MissingFolders folders = MissingFolders::refuse) : folders_(folders) {}
  OutputSet(const OutputSet&) = delete;
  OutputSet& operator=(const OutputSet&) = delete;
  ~OutputSet();  // removes temporaries left by a commit() that threw half-way (never a target)

  void add_input(const std::string& path);
  // `what` names the output in messages: the flag ("--html") or the file's role ("profile.json").
  std::size_t add_output(const std::string& path, const std::string& what);
  // Throws InvalidInput naming the path and why. Idempotent; commit() calls it again.
  void check();
  void put(std::size_t index, std::string content);
  // Throws IoError (a write, flush or rename failed) after removing every temporary. Returns the
  // files written, in the order they were added ("-" left out).
  std::vector<std::string> commit();

  const std::string& path(std::size_t index) const { return outputs_.at(index).path; }

 private:
  struct Output {
    std::string path, what, content;
    bool filled = false;
    std::string target;  // where the bytes go: path, or the regular file a symlink points to
    std::string temp;    // set while a temporary exists
  };
  void write_temporaries(std::vector<std::string>& made_dirs);
  void remove_temporaries();

  MissingFolders folders_;
  std::vector<std::string> inputs_;
  std::vector<Output> outputs_;
};

}  // namespace vramfit
