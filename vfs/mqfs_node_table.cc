// NodeTable: inode numbers to queues, open descriptions, poll handles, expected opens.
#include "vfs/mqfs_node_table.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace mqsentry::vfs {

void NodeTable::AddQueue(std::shared_ptr<ipc::QueueInode> inode,
                         std::shared_ptr<ipc::IpcNamespace> ns, timespec now) {
  std::string name = absl::StrCat("#", inode->id());
  AddQueue(std::move(inode), std::move(ns), std::move(name), now);
}

void NodeTable::AddQueue(std::shared_ptr<ipc::QueueInode> inode,
                         std::shared_ptr<ipc::IpcNamespace> ns, std::string name, timespec now,
                         uint32_t generation) {
  absl::MutexLock lock(&mu_);
  const uint64_t ino = InoForQueue(inode->id());
  const uint64_t dir = DirForLocked(ns, now);
  const ipc::Queue* queue = &inode->queue();
  auto [it, inserted] = entries_.try_emplace(ino);
  Entry& entry = it->second;
  if (inserted || entry.inode.expired()) {
    entry.generation = generation;
    entry.meta = NodeMeta{};
    entry.meta.atime = entry.meta.mtime = entry.meta.ctime = now;
    auto preset = preset_times_.find(ino);
    if (preset != preset_times_.end()) {
      entry.meta.atime = preset->second.atime;
      entry.meta.mtime = preset->second.mtime;
      entry.meta.ctime = preset->second.ctime;
      preset_times_.erase(preset);
    }
  }
  if (entry.queue != nullptr && entry.queue != queue) {
    auto old = by_queue_.find(entry.queue);
    if (old != by_queue_.end() && old->second == ino) by_queue_.erase(old);
  }
  if (!entry.name.empty() && (entry.dir != dir || entry.name != name)) {
    auto old = by_name_.find(std::make_pair(entry.dir, entry.name));
    if (old != by_name_.end() && old->second.erase(ino) && old->second.empty()) by_name_.erase(old);
  }
  by_name_[std::make_pair(dir, name)].insert(ino);
  entry.name = std::move(name);
  entry.dir = dir;
  entry.inode = inode;
  entry.ns = std::move(ns);
  entry.queue = queue;
  by_queue_[queue] = ino;
  if (entries_.size() >= sweep_at_) {
    SweepLocked();
    sweep_at_ = std::max<size_t>(64, 2 * entries_.size());
  }
}

std::optional<QueueNode> NodeTable::Find(uint64_t ino) const {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(ino);
  if (it == entries_.end()) return std::nullopt;
  std::shared_ptr<ipc::QueueInode> inode = it->second.inode.lock();
  if (inode == nullptr) return std::nullopt;
  return QueueNode{ino,           std::move(inode), it->second.ns,        it->second.meta,
                   it->second.name, it->second.dir,  it->second.generation};
}

std::optional<uint64_t> NodeTable::DirOf(const ipc::IpcNamespace* ns) const {
  absl::MutexLock lock(&mu_);
  auto it = dir_of_ns_.find(ns);
  if (it == dir_of_ns_.end()) return std::nullopt;
  return it->second;
}

uint64_t NodeTable::DirForLocked(const std::shared_ptr<ipc::IpcNamespace>& ns, timespec now) {
  auto [it, added] = dir_of_ns_.try_emplace(ns.get(), next_dir_);
  if (added) ++next_dir_;
  ns_of_dir_[it->second] = ns;
  dir_times_.try_emplace(it->second, DirTimes{now, now, now});
  return it->second;
}

uint64_t NodeTable::DirFor(const std::shared_ptr<ipc::IpcNamespace>& ns, timespec now) {
  absl::MutexLock lock(&mu_);
  return DirForLocked(ns, now);
}

std::optional<NodeTable::DirTimes> NodeTable::TimesOf(uint64_t dir) const {
  absl::MutexLock lock(&mu_);
  auto it = dir_times_.find(dir);
  if (it == dir_times_.end()) return std::nullopt;
  return it->second;
}

void NodeTable::TouchDir(uint64_t dir, timespec now) {
  absl::MutexLock lock(&mu_);
  auto it = dir_times_.find(dir);
  if (it != dir_times_.end()) it->second = DirTimes{now, now, now};
}

std::shared_ptr<ipc::IpcNamespace> NodeTable::NamespaceOfDir(uint64_t dir) const {
  absl::MutexLock lock(&mu_);
  auto it = ns_of_dir_.find(dir);
  return it == ns_of_dir_.end() ? nullptr : it->second.lock();
}

std::optional<uint64_t> NodeTable::ForgetNamespace(const ipc::IpcNamespace* ns) {
  absl::MutexLock lock(&mu_);
  auto it = dir_of_ns_.find(ns);
  if (it == dir_of_ns_.end()) return std::nullopt;
  const uint64_t dir = it->second;
  dir_of_ns_.erase(it);
  return dir;
}

bool NodeTable::IsDir(uint64_t ino) const {
  absl::MutexLock lock(&mu_);
  return IsDirIno(ino) && ino < next_dir_;
}

std::vector<uint64_t> NodeTable::ExpectedOpensOf(int32_t tid) const {
  absl::MutexLock lock(&mu_);
  std::vector<uint64_t> out;
  for (const auto& [key, count] : expected_opens_) {
    if (key.second == tid) out.push_back(key.first);
  }
  return out;
}

std::vector<uint64_t> NodeTable::Dirs() const {
  absl::MutexLock lock(&mu_);
  std::vector<uint64_t> out;
  for (const auto& [ns, dir] : dir_of_ns_) out.push_back(dir);
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<uint64_t> NodeTable::InosNamed(uint64_t dir, const std::string& name) const {
  absl::MutexLock lock(&mu_);
  std::vector<uint64_t> out;
  auto it = by_name_.find(std::make_pair(dir, name));
  if (it == by_name_.end()) return out;
  for (uint64_t ino : it->second) {
    auto entry = entries_.find(ino);
    if (entry != entries_.end() && !entry->second.inode.expired()) out.push_back(ino);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::pair<std::string, uint64_t>> NodeTable::EntriesOf(uint64_t dir) const {
  absl::MutexLock lock(&mu_);
  std::vector<std::pair<std::string, uint64_t>> out;
  for (const auto& [ino, entry] : entries_) {
    if (entry.dir == dir && !entry.inode.expired()) out.emplace_back(entry.name, ino);
  }
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.second < b.second; });
  return out;
}

bool NodeTable::HasExpectedOpen(uint64_t ino, int32_t tid) const {
  absl::MutexLock lock(&mu_);
  return expected_opens_.contains(std::make_pair(ino, tid));
}

std::vector<uint64_t> NodeTable::LiveInos() const {
  absl::MutexLock lock(&mu_);
  std::vector<uint64_t> out;
  for (const auto& [ino, entry] : entries_) {
    if (!entry.inode.expired()) out.push_back(ino);
  }
  std::sort(out.begin(), out.end());
  return out;
}

uint64_t NodeTable::AddFile(OpenFile file) {
  absl::MutexLock lock(&mu_);
  const uint64_t fh = next_fh_++;
  const uint64_t ino = file.ino;
  files_.emplace(fh, FileSlot{std::make_shared<const OpenFile>(std::move(file)), nullptr});
  auto it = entries_.find(ino);
  if (it != entries_.end()) it->second.files.insert(fh);
  return fh;
}

std::shared_ptr<const OpenFile> NodeTable::File(uint64_t fh) const {
  absl::MutexLock lock(&mu_);
  auto it = files_.find(fh);
  return it == files_.end() ? nullptr : it->second.file;
}

std::shared_ptr<const OpenFile> NodeTable::RemoveFile(uint64_t fh) {
  PollHandle dropped;  // destroyed after mu_ is released
  std::shared_ptr<const OpenFile> file;
  {
    absl::MutexLock lock(&mu_);
    auto it = files_.find(fh);
    if (it == files_.end()) return nullptr;
    file = std::move(it->second.file);
    dropped = std::move(it->second.poll_handle);
    files_.erase(it);
    auto entry = entries_.find(file->ino);
    if (entry != entries_.end()) entry->second.files.erase(fh);
  }
  return file;
}

void NodeTable::SetPollHandle(uint64_t fh, PollHandle handle) {
  absl::MutexLock lock(&mu_);
  auto it = files_.find(fh);
  if (it == files_.end()) return;  // released meanwhile: `handle` is simply dropped
  std::swap(it->second.poll_handle, handle);
}

std::vector<PollHandle> NodeTable::PollHandlesOf(const ipc::Queue& queue) const {
  std::vector<PollHandle> out;
  absl::MutexLock lock(&mu_);
  auto q = by_queue_.find(&queue);
  if (q == by_queue_.end()) return out;
  auto entry = entries_.find(q->second);
  if (entry == entries_.end()) return out;
  for (uint64_t fh : entry->second.files) {
    auto it = files_.find(fh);
    if (it != files_.end() && it->second.poll_handle != nullptr) {
      out.push_back(it->second.poll_handle);
    }
  }
  return out;
}

void NodeTable::DropPollHandles() {
  std::vector<PollHandle> dropped;
  absl::MutexLock lock(&mu_);
  for (auto& [fh, slot] : files_) {
    if (slot.poll_handle != nullptr) dropped.push_back(std::move(slot.poll_handle));
  }
}

size_t NodeTable::open_files() const {
  absl::MutexLock lock(&mu_);
  return files_.size();
}

size_t NodeTable::entries() const {
  absl::MutexLock lock(&mu_);
  return entries_.size();
}

void NodeTable::ExpectOpen(uint64_t ino, int32_t tid) {
  absl::MutexLock lock(&mu_);
  ++expected_opens_[{ino, tid}];
}

bool NodeTable::TakeExpectedOpen(uint64_t ino, int32_t tid) {
  absl::MutexLock lock(&mu_);
  auto it = expected_opens_.find(std::make_pair(ino, tid));
  if (it == expected_opens_.end()) return false;
  if (--it->second == 0) expected_opens_.erase(it);
  return true;
}

bool NodeTable::CancelExpectedOpen(uint64_t ino, int32_t tid) {
  absl::MutexLock lock(&mu_);
  auto it = expected_opens_.find(std::make_pair(ino, tid));
  if (it == expected_opens_.end()) return false;
  if (--it->second == 0) expected_opens_.erase(it);
  return true;
}

void NodeTable::SweepLocked() {
  std::vector<uint64_t> dead;
  for (const auto& [ino, entry] : entries_) {
    if (entry.inode.expired() && entry.files.empty()) dead.push_back(ino);
  }
  for (uint64_t ino : dead) EraseEntryLocked(ino);
}

void NodeTable::EraseEntryLocked(uint64_t ino) {
  auto it = entries_.find(ino);
  if (it == entries_.end()) return;
  auto q = by_queue_.find(it->second.queue);
  if (q != by_queue_.end() && q->second == ino) by_queue_.erase(q);
  auto named = by_name_.find(std::make_pair(it->second.dir, it->second.name));
  if (named != by_name_.end() && named->second.erase(ino) && named->second.empty()) {
    by_name_.erase(named);
  }
  entries_.erase(it);
}

void NodeTable::PresetTimes(uint64_t ino, const FileTimes& times) {
  absl::MutexLock lock(&mu_);
  preset_times_[ino] = times;
}

std::optional<FileTimes> NodeTable::QueueTimes(uint64_t ino) const {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(ino);
  if (it != entries_.end() && !it->second.inode.expired()) {
    return FileTimes{it->second.meta.atime, it->second.meta.mtime, it->second.meta.ctime};
  }
  auto preset = preset_times_.find(ino);
  if (preset != preset_times_.end()) return preset->second;
  return std::nullopt;
}

}  // namespace mqsentry::vfs
