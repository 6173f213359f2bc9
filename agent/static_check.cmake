# SPDX-License-Identifier: Apache-2.0
# static_check.cmake - run after linking gatefleet-agent with GF_AGENT_STATIC_DEPS: fails the
# build when the binary still needs a shared library other than glibc's (libc, libm, libdl,
# libpthread, librt, the dynamic loader), i.e. when a shared OpenSSL, paho, jansson or
# libsodium slipped back onto the link line ahead of its static archive.
# Usage: cmake -DGF_ELF=<binary> -DGF_READELF=<readelf> -P static_check.cmake
execute_process(COMMAND ${GF_READELF} -d ${GF_ELF} OUTPUT_VARIABLE dyn RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
    message(FATAL_ERROR "static_check: ${GF_READELF} -d ${GF_ELF} failed")
endif()
string(REGEX MATCHALL "\\(NEEDED\\)[^\n]*" needed "${dyn}")
foreach(line IN LISTS needed)
    if(NOT line MATCHES "\\[(libc|libm|libdl|libpthread|librt)\\.so\\.[0-9]+\\]" AND
       NOT line MATCHES "\\[ld-linux[^]]*\\]")
        message(FATAL_ERROR "static_check: gatefleet-agent (GF_AGENT_STATIC_DEPS) still needs a "
                            "shared library: ${line}")
    endif()
endforeach()
