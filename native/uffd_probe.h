// SPDX-License-Identifier: GPL-2.0
//
// probeUffdApi(requestedFeatures): what this kernel grants a new uffd
// (uffd_probe.cc).
#pragma once

#include <napi.h>

namespace uscope {

Napi::Value ProbeUffdApi(const Napi::CallbackInfo& info);

}  // namespace uscope
