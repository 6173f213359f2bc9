# SPDX-License-Identifier: Apache-2.0
# Strict warnings for every gatefleet target, -Werror with GF_WERROR=ON (CI), and the
# sanitizer switch GF_SANITIZE. Applied through gf_target_defaults(target).
set(GF_WARNINGS
    -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion
    -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Wvla -Wundef
    -Wpointer-arith -Wwrite-strings -Wnull-dereference
    -Wimplicit-fallthrough -Wold-style-definition)
if(GF_WERROR)
    list(APPEND GF_WARNINGS -Werror)
endif()
set(GF_SAN_FLAGS "")
if(GF_SANITIZE)
    set(GF_SAN_FLAGS -fsanitize=${GF_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
endif()

function(gf_target_defaults tgt)
    target_compile_options(${tgt} PRIVATE ${GF_WARNINGS} ${GF_SAN_FLAGS})
    target_compile_definitions(${tgt} PRIVATE _POSIX_C_SOURCE=200809L _DEFAULT_SOURCE)
    if(GF_SAN_FLAGS)
        target_link_options(${tgt} PRIVATE ${GF_SAN_FLAGS})
    endif()
endfunction()
