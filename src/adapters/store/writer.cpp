// The store's writer thread (writer.hpp).
#include "topupd/adapters/store/writer.hpp"

#include <boost/asio/post.hpp>

namespace topupd::adapters {

namespace asio = boost::asio;

StoreWriter::StoreWriter(asio::any_io_executor loop, Store& loop_store, const Open& open)
    : loop_(std::move(loop)), loop_store_(loop_store) {
  if (!open) return;
  own_ = open();
  thread_ = std::thread([this] { work(); });
}

StoreWriter::~StoreWriter() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wanted_.notify_one();
  if (thread_.joinable()) thread_.join();
}

std::uint64_t StoreWriter::jobs_run() const {
  std::lock_guard lock(mutex_);
  return jobs_run_;
}

void StoreWriter::submit(std::function<void(Store&)> run, std::function<void()> answered) {
  {
    std::lock_guard lock(mutex_);
    jobs_.push_back(Task{std::move(run), std::move(answered)});
  }
  wanted_.notify_one();
}

void StoreWriter::work() {
  std::unique_lock lock(mutex_);
  while (true) {
    wanted_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
    // Stopping still runs what was asked: its askers may be waiting for the answer.
    if (jobs_.empty()) break;
    Task job = std::move(jobs_.front());
    jobs_.pop_front();
    lock.unlock();
    job.run(*own_);  // catches what the job throws (write())
    lock.lock();
    jobs_run_ += 1;  // counted before its answer is heard
    asio::post(loop_, std::move(job.answered));
    lock.unlock();
    own_->between_writes();  // after the answer: the next job may wait for it, this one does not
    lock.lock();
  }
}

}  // namespace topupd::adapters
