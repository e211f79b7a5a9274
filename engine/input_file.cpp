#include "engine/input_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "engine/error.h"

namespace radial {

namespace {

const char* file_type_name(mode_t m) {
  if (S_ISDIR(m)) return "a directory";
  if (S_ISFIFO(m)) return "a FIFO";
  if (S_ISCHR(m)) return "a character device";
  if (S_ISBLK(m)) return "a block device";
  if (S_ISSOCK(m)) return "a socket";
  return "not a regular file";
}

}  // namespace

void require_regular_file(const std::string& path, const std::string& what) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    throw Error(ErrorCode::kNotFound,
                "cannot read " + what + " " + path + ": " + std::strerror(errno));
  if (!S_ISREG(st.st_mode))
    throw Error(ErrorCode::kCorrupt,
                what + " " + path + " is " + file_type_name(st.st_mode) + ", not a regular file");
}

std::string read_input_file(const std::string& path, uint64_t max_bytes) {
  require_regular_file(path, "file");
  // O_NONBLOCK: should the path be swapped for a FIFO after the stat, open()
  // still returns at once and the fstat below refuses it.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0)
    throw Error(ErrorCode::kNotFound, path + ": cannot open (" + std::strerror(errno) + ")");
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
    throw Error(ErrorCode::kCorrupt, path + ": not a regular file");
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size > max_bytes)
    throw Error(ErrorCode::kCorrupt, path + ": " + std::to_string(size) +
                                         " bytes, more than the limit of " +
                                         std::to_string(max_bytes) + " for this file");
  std::string out;
  out.resize(size);
  size_t done = 0;
  while (done < size) {
    const ssize_t got = ::read(fd, out.data() + done, size - done);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0)
      throw Error(ErrorCode::kNotFound, path + ": cannot read (" + std::strerror(errno) + ")");
    if (got == 0) break;  // truncated while reading: parse what is there
    done += static_cast<size_t>(got);
  }
  out.resize(done);
  return out;
}

}  // namespace radial
