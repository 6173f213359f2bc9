# SPDX-License-Identifier: Apache-2.0
# gf_embed_files(OUT_C SYMBOL files...): generates a C file holding each file's bytes as a
# NUL-terminated array, plus a table {name, data, len} named SYMBOL. Used to ship the SQL
# migrations and the OpenAPI document inside gatefleet-server.
function(gf_embed_files out_c symbol)
    set(files ${ARGN})
    # A ';' would split the command line; pass the list joined with '|' instead.
    string(REPLACE ";" "|" files_arg "${files}")
    add_custom_command(
        OUTPUT ${out_c}
        COMMAND ${CMAKE_COMMAND} -DOUT=${out_c} -DSYMBOL=${symbol} "-DFILES=${files_arg}"
                -P ${CMAKE_SOURCE_DIR}/cmake/GfEmbedRun.cmake
        DEPENDS ${files} ${CMAKE_SOURCE_DIR}/cmake/GfEmbedRun.cmake
        COMMENT "Embedding ${symbol}"
        VERBATIM)
endfunction()
