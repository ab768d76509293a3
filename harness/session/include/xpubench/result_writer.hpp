// Crash-safe result files (DESIGN.md §7). While a run goes on, every finished benchmark is
// appended to `<out>.journal` (JSON Lines, flushed and fsync'ed per record): the first line is
// the run header (run, system, devices), each further line one benchmark record. At the end
// the document is written to `<out>.tmp.<pid>`, fsync'ed and renamed over `<out>`, and the
// journal is removed. A run killed half-way leaves the journal; load_result() reads it as a
// document whose run.status is "incomplete", so nothing already measured is lost. A journal
// already at `<out>.journal` when a writer starts (an earlier crashed run) is renamed to
// `<out>.journal.N`, never overwritten.
//
// One writer per output path: the writer holds an exclusive lock (flock) on `<out>.lock` for
// its whole life, so a second run writing the same path is refused at once, naming the first
// one's pid, and no run ever moves or deletes a journal that another live run is writing.
#pragma once
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "xpubench/export.hpp"
#include "xpubench/result.hpp"

namespace xpb {

// Throws InputError unless `path` can be a result or model file: not empty, not a directory,
// not an existing FIFO, device or socket (they would be replaced by a regular file, or would
// block), and in a directory that exists or can be made. `what` names the option ("-o").
XPB_API void check_output_path(const std::filesystem::path& path, const std::string& what);

class XPB_API ResultWriter {
 public:
  // `header` holds "run", "system" and "devices". Throws InputError when another process
  // writes `out` (its lock is held) and std::runtime_error when the journal cannot be created.
  ResultWriter(std::filesystem::path out, nlohmann::json header);
  ~ResultWriter();
  ResultWriter(const ResultWriter&) = delete;
  ResultWriter& operator=(const ResultWriter&) = delete;

  // Journals the record and returns it as written (the serialized form is authoritative: a
  // record with non-finite figures is written as mistrusted).
  const nlohmann::json& append(const BenchmarkRecord& record);
  // The same for a record already serialized by BenchmarkRecord::to_json (in another process:
  // an isolated benchmark's child).
  const nlohmann::json& append(nlohmann::json record);
  // Writes the final document with run.status = `status` ("complete" or "interrupted"; a run
  // that breaks never finishes, and its journal reads back as "incomplete") and returns it.
  // Throws std::invalid_argument for another status.
  nlohmann::json finish(const std::string& status);

  const std::filesystem::path& journal_path() const { return journal_path_; }
  const std::filesystem::path& output_path() const { return out_; }

 private:
  std::filesystem::path out_;
  std::filesystem::path journal_path_;
  nlohmann::json header_;
  std::vector<nlohmann::json> records_;
  std::FILE* journal_ = nullptr;
  int lock_fd_ = -1;
};

// Builds the document from a header and records.
XPB_API nlohmann::json assemble_result(const nlohmann::json& header, std::vector<nlohmann::json> records,
                               const std::string& status);

// Reads a result document or a journal. Throws InputError naming the file (and line for a
// journal, line and column for a JSON syntax error) when it is neither. A journal comes back
// assembled with run.status "incomplete", run.finished null and run.recovery saying so; an
// unterminated last line (the run died while writing it) is dropped and listed in
// run.recovery.dropped_lines.
// Reading is bounded: a file that is not a regular file is refused before it is opened, and
// running out of memory while parsing is an InputError naming the file, never an abort.
XPB_API nlohmann::json load_result(const std::filesystem::path& file);

// Writes `text` to `path` atomically (temp file in the same directory, fsync, rename).
XPB_API void write_file_atomically(const std::filesystem::path& path, const std::string& text);

}  // namespace xpb
