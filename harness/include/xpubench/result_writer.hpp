// Crash-safe result files (DESIGN.md §7). While a run goes on, every finished benchmark is
// appended to `<out>.journal` (JSON Lines, flushed and fsync'ed per record): the first line is
// the run header (run, system, devices), each further line one benchmark record. At the end
// the document is written to `<out>.tmp.<pid>`, fsync'ed and renamed over `<out>`, and the
// journal is removed. A run killed half-way leaves the journal; load_result() reads it as a
// document whose run.status is "incomplete", so nothing already measured is lost. A journal
// already at `<out>.journal` when a writer starts (an earlier crashed run) is renamed to
// `<out>.journal.N`, never overwritten.
#pragma once
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "xpubench/result.hpp"

namespace xpb {

class ResultWriter {
 public:
  // `header` holds "run", "system" and "devices". Throws std::runtime_error when the
  // journal cannot be created.
  ResultWriter(std::filesystem::path out, nlohmann::json header);
  ~ResultWriter();
  ResultWriter(const ResultWriter&) = delete;
  ResultWriter& operator=(const ResultWriter&) = delete;

  // Journals the record and returns it as written (the serialized form is authoritative: a
  // record with non-finite figures is written as mistrusted).
  const nlohmann::json& append(const BenchmarkRecord& record);
  // Writes the final document with run.status = `status` ("complete", "interrupted",
  // "failed") and returns it.
  nlohmann::json finish(const std::string& status);

  const std::filesystem::path& journal_path() const { return journal_path_; }
  const std::filesystem::path& output_path() const { return out_; }

 private:
  std::filesystem::path out_;
  std::filesystem::path journal_path_;
  nlohmann::json header_;
  std::vector<nlohmann::json> records_;
  std::FILE* journal_ = nullptr;
};

// Builds the document from a header and records.
nlohmann::json assemble_result(const nlohmann::json& header, std::vector<nlohmann::json> records,
                               const std::string& status);

// Reads a result document or a journal. Throws InputError naming the file (and line for a
// journal, line and column for a JSON syntax error) when it is neither. A journal comes back
// assembled with run.status "incomplete", run.finished null and run.recovery saying so; an
// unterminated last line (the run died while writing it) is dropped and listed in
// run.recovery.dropped_lines.
nlohmann::json load_result(const std::filesystem::path& file);

// Writes `text` to `path` atomically (temp file in the same directory, fsync, rename).
void write_file_atomically(const std::filesystem::path& path, const std::string& text);

}  // namespace xpb
