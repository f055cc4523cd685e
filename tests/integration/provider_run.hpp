// Runs one provider call to completion on an io_context: for tests that drive an
// adapter by hand against the stand-alone sandbox.
#pragma once

#include <optional>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

namespace topupd::testing {

template <class T>
boost::asio::awaitable<void> store_into(boost::asio::awaitable<T> task, std::optional<T>& out) {
  out.emplace(co_await std::move(task));
}

template <class T>
T run(boost::asio::io_context& io, boost::asio::awaitable<T> task) {
  std::optional<T> out;
  boost::asio::co_spawn(io, store_into(std::move(task), out), boost::asio::detached);
  io.restart();
  io.run();
  return std::move(*out);
}

}  // namespace topupd::testing
