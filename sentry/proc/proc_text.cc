#include "sentry/proc/proc_text.h"

#include <algorithm>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "kernel/status_macros.h"

namespace mqsentry::sentry::proc {
namespace {

absl::Status Malformed(absl::string_view key, absl::string_view value) {
  return absl::InternalError(absl::StrCat("malformed /proc status line ", key, ": ", value));
}

template <typename T>
absl::Status ParseList(absl::string_view key, absl::string_view value, std::vector<T>& out) {
  for (absl::string_view field : absl::StrSplit(value, absl::ByAnyChar(" \t"), absl::SkipEmpty())) {
    T v;
    if (!absl::SimpleAtoi(field, &v)) return Malformed(key, value);
    out.push_back(v);
  }
  return absl::OkStatus();
}

absl::Status ParseHex(absl::string_view key, absl::string_view value, uint64_t& out) {
  if (!absl::SimpleHexAtoi(absl::StripAsciiWhitespace(value), &out)) return Malformed(key, value);
  return absl::OkStatus();
}

// Umask is printed as "%#o" of a value below 01000.
absl::Status ParseOctal(absl::string_view key, absl::string_view value, uint32_t& out) {
  const absl::string_view v = absl::StripAsciiWhitespace(value);
  if (v.empty()) return Malformed(key, value);
  uint32_t mask = 0;
  for (char c : v) {
    if (c < '0' || c > '7') return Malformed(key, value);
    mask = mask * 8 + static_cast<uint32_t>(c - '0');
  }
  out = mask;
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Status> ParseStatus(absl::string_view text) {
  Status s;
  bool have_tgid = false, have_uid = false, have_gid = false;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    const size_t colon = line.find(':');
    if (colon == absl::string_view::npos) continue;
    const absl::string_view key = line.substr(0, colon);
    const absl::string_view value = line.substr(colon + 1);
    if (key == "Tgid") {
      if (!absl::SimpleAtoi(value, &s.tgid)) return Malformed(key, value);
      have_tgid = true;
    } else if (key == "Uid" || key == "Gid") {
      std::vector<uint32_t> ids;
      RETURN_IF_ERROR(ParseList(key, value, ids));
      if (ids.size() != 4) return Malformed(key, value);
      std::copy(ids.begin(), ids.end(), key == "Uid" ? s.uid : s.gid);
      (key == "Uid" ? have_uid : have_gid) = true;
    } else if (key == "Groups") {
      RETURN_IF_ERROR(ParseList(key, value, s.groups));
    } else if (key == "NSpid") {
      RETURN_IF_ERROR(ParseList(key, value, s.nspid));
    } else if (key == "CapInh") {
      RETURN_IF_ERROR(ParseHex(key, value, s.cap_inh));
    } else if (key == "CapPrm") {
      RETURN_IF_ERROR(ParseHex(key, value, s.cap_prm));
    } else if (key == "CapEff") {
      RETURN_IF_ERROR(ParseHex(key, value, s.cap_eff));
    } else if (key == "CapBnd") {
      RETURN_IF_ERROR(ParseHex(key, value, s.cap_bnd));
    } else if (key == "SigPnd") {
      RETURN_IF_ERROR(ParseHex(key, value, s.sig_pnd));
    } else if (key == "ShdPnd") {
      RETURN_IF_ERROR(ParseHex(key, value, s.shd_pnd));
    } else if (key == "SigBlk") {
      RETURN_IF_ERROR(ParseHex(key, value, s.sig_blk));
    } else if (key == "Umask") {
      uint32_t mask = 0;
      RETURN_IF_ERROR(ParseOctal(key, value, mask));
      s.umask = mask;
    }
  }
  if (!have_tgid || !have_uid || !have_gid) {
    return absl::InternalError("/proc status lacks Tgid, Uid or Gid");
  }
  return s;
}

absl::StatusOr<Stat> ParseStat(absl::string_view text) {
  const size_t close = text.rfind(')');
  if (close == absl::string_view::npos) return absl::InternalError("malformed /proc stat");
  // Field N (1-based, as proc(5) numbers them) is fields[N - 3]: state is field 3.
  std::vector<absl::string_view> fields =
      absl::StrSplit(text.substr(close + 1), absl::ByAnyChar(" \n"), absl::SkipEmpty());
  Stat s;
  if (fields.size() < 22 - 2 || !absl::SimpleAtoi(fields[18 - 3], &s.priority) ||
      !absl::SimpleAtoi(fields[22 - 3], &s.start_time)) {
    return absl::InternalError(absl::StrCat("malformed /proc stat: ", text));
  }
  return s;
}

}  // namespace mqsentry::sentry::proc
