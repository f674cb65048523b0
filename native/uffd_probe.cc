// SPDX-License-Identifier: GPL-2.0
//
// doctor's UFFDIO_API probe (uffd_probe.h). No BPF here: it asks the kernel
// directly.

#include "uffd_probe.h"

#include <cerrno>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef USERFAULTFD_IOC_NEW
#define USERFAULTFD_IOC_NEW _IO(0xAA, 0x00)
#endif

namespace uscope {

// probeUffdApi(requestedFeatures): creates a uffd (userfaultfd(2), else
// /dev/userfaultfd) and performs UFFDIO_API, to report what this kernel
// grants. A capability probe for `doctor`, like the backend probes.
Napi::Value ProbeUffdApi(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  bool lossless;
  uint64_t want = info[0].IsBigInt() ? info[0].As<Napi::BigInt>().Uint64Value(&lossless) : 0;
  Napi::Object out = Napi::Object::New(env);
  const char* via = "syscall";
  int fd = (int)syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
  int create_errno = fd < 0 ? errno : 0;
  if (fd < 0) {
    int dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
    if (dev >= 0) {
      fd = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);
      if (fd < 0) create_errno = errno;
      close(dev);
      via = "dev";
    }
  }
  if (fd < 0) {
    out.Set("created", false);
    out.Set("errno", Napi::Number::New(env, create_errno));
    return out;
  }
  struct uffdio_api api = {};
  api.api = UFFD_API;
  api.features = want;
  int r = ioctl(fd, UFFDIO_API, &api);
  int api_errno = r ? errno : 0;
  close(fd);
  out.Set("created", true);
  out.Set("via", via);
  out.Set("ok", r == 0);
  out.Set("errno", Napi::Number::New(env, api_errno));
  out.Set("features", Napi::BigInt::New(env, (uint64_t)api.features));
  out.Set("ioctls", Napi::BigInt::New(env, (uint64_t)api.ioctls));
  return out;
}

}  // namespace uscope
