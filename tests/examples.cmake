# examples.cmake - every program in examples/ as a ctest smoke test.
#
# Included from tests/CMakeLists.txt, it registers example_<name> for each
# examples/<name>.c that was built.  Each test runs this same file as a
# script (cmake -P) with EXAMPLE, EXE, CLI and DIR set: it writes a small
# input under DIR, runs the example and checks what it printed.
#   checksums  known FNV-1a digests, and the same output with -j 1 and -j 2
#   ngrams     --top 5 gives 5 trigram lines, the same with -j 1 and -j 2
#   wordfreq   the same counts as `jobrun wordcount`
# and each names an input it cannot read on stderr and exits 1.
# An example without checks of its own must exit 0 on the input.

if(NOT CMAKE_SCRIPT_MODE_FILE)
  file(GLOB jr_example_sources CONFIGURE_DEPENDS
       ${PROJECT_SOURCE_DIR}/examples/*.c)
  foreach(src ${jr_example_sources})
    get_filename_component(name ${src} NAME_WE)
    if(NOT TARGET example_${name})
      continue()
    endif()
    add_test(NAME example_${name}
      COMMAND ${CMAKE_COMMAND} -DEXAMPLE=${name}
              -DEXE=$<TARGET_FILE:example_${name}>
              -DCLI=$<TARGET_FILE:jobrun_cli>
              -DDIR=${CMAKE_CURRENT_BINARY_DIR}/example_${name}
              -P ${CMAKE_CURRENT_LIST_FILE})
    set_tests_properties(example_${name} PROPERTIES TIMEOUT 120)
  endforeach()
  return()
endif()

# ---- script mode ------------------------------------------------------------

# Run a command; its standard output, without the last newline, goes to
# out as a list of lines.  Any exit status but 0 fails the test.
function(run out)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE o
                  ERROR_VARIABLE e TIMEOUT 60)
  if(NOT rc STREQUAL "0")
    string(REPLACE ";" " " cmd "${ARGN}")
    message(FATAL_ERROR "${cmd}\nexited with: ${rc}\n${e}")
  endif()
  string(REGEX REPLACE "\n$" "" o "${o}")
  string(REPLACE "\n" ";" o "${o}")
  set(${out} "${o}" PARENT_SCOPE)
endfunction()

# Run a command that must exit 1, print `out` and say `err` on stderr (an
# input it could not read).
function(run_unread out err)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE o
                  ERROR_VARIABLE e TIMEOUT 60)
  string(REPLACE ";" " " cmd "${ARGN}")
  expect_equal("${cmd}: exit status" "${rc}" "1")
  expect_equal("${cmd}: stdout" "${o}" "${out}")
  expect_equal("${cmd}: stderr" "${e}" "${err}")
endfunction()

function(expect_equal what got want)
  if(NOT got STREQUAL want)
    string(REPLACE ";" "\n" got "${got}")
    string(REPLACE ";" "\n" want "${want}")
    message(FATAL_ERROR "${what}:\n--- got:\n${got}\n--- wanted:\n${want}")
  endif()
endfunction()

# The input: DIR/in/ holds words.txt (400 lines, words of different
# frequencies, upper case and UTF-8 too), and empty.txt, a.txt and
# foobar.txt, whose FNV-1a 64 digests are the published test vectors.
file(REMOVE_RECURSE ${DIR})
set(in ${DIR}/in)
set(words alpha Bravo charlie delta ECHO foxtrot golf hotel india juliet
          kilo lima)
set(text "")
foreach(i RANGE 399)
  math(EXPR a "${i} % 12")
  math(EXPR b "(${i} * 7) % 11")
  math(EXPR c "(${i} * ${i}) % 12")
  math(EXPR n "${i} % 17")
  list(GET words ${a} wa)
  list(GET words ${b} wb)
  list(GET words ${c} wc)
  string(APPEND text "${wa} ${wb}, the ${wc} Größe: ${n}.\n")
endforeach()
file(WRITE ${in}/words.txt "${text}")
file(WRITE ${in}/empty.txt "")
file(WRITE ${in}/a.txt "a")
file(WRITE ${in}/foobar.txt "foobar")

if(EXAMPLE STREQUAL "checksums")
  set(files ${in}/empty.txt ${in}/a.txt ${in}/foobar.txt ${in}/words.txt)
  run(one ${EXE} -j 1 ${files})
  run(two ${EXE} -j 2 ${files})
  expect_equal("checksums -j 2 against -j 1" "${two}" "${one}")
  list(SUBLIST one 0 3 known)
  expect_equal("checksums of the test vectors" "${known}"
    "cbf29ce484222325  ${in}/empty.txt;af63dc4c8601ec8c  ${in}/a.txt;85944171f73967e8  ${in}/foobar.txt")
  list(GET one 3 last)
  string(SUBSTRING "${last}" 0 16 hex)
  string(SUBSTRING "${last}" 16 -1 rest)
  if(NOT hex MATCHES "^[0-9a-f]+$" OR NOT rest STREQUAL "  ${in}/words.txt")
    message(FATAL_ERROR "checksums printed '${last}' for words.txt")
  endif()
  run_unread("af63dc4c8601ec8c  ${in}/a.txt\n"
    "checksums: ${in}: Is a directory\nchecksums: ${in}/missing: No such file or directory\n"
    ${EXE} -j 2 ${in}/a.txt ${in} ${in}/missing)

elseif(EXAMPLE STREQUAL "ngrams")
  run(one ${EXE} -j 1 --top 5 ${in})
  run(two ${EXE} -j 2 --top 5 ${in})
  expect_equal("ngrams -j 2 against -j 1" "${two}" "${one}")
  list(LENGTH one n)
  expect_equal("ngrams --top 5: lines" "${n}" "5")
  foreach(line ${one})
    if(NOT line MATCHES "^[1-9][0-9]*\t[a-z][a-z][a-z]$")
      message(FATAL_ERROR "ngrams printed '${line}'")
    endif()
  endforeach()
  run_unread("1\tbar\n1\tfoo\n"
    "ngrams: ${in}/missing: No such file or directory\n"
    ${EXE} --top 2 ${in}/missing ${in}/foobar.txt)

elseif(EXAMPLE STREQUAL "wordfreq")
  # wordfreq prints "N distinct words" then "%8llu  WORD" lines; the CLI
  # prints "COUNT<TAB>WORD" in the same order.
  run(got ${EXE} ${in})
  run(all ${CLI} --no-progress wordcount ${in})
  run(top ${CLI} --no-progress wordcount --top 10 ${in})
  list(LENGTH all ndistinct)
  list(POP_FRONT got first)
  expect_equal("wordfreq's first line" "${first}"
               "${ndistinct} distinct words")
  set(rows "")
  foreach(line ${got})
    if(NOT line MATCHES "^ *([0-9]+)  (.+)$")
      message(FATAL_ERROR "wordfreq printed '${line}'")
    endif()
    list(APPEND rows "${CMAKE_MATCH_1}\t${CMAKE_MATCH_2}")
  endforeach()
  expect_equal("wordfreq against jobrun wordcount --top 10" "${rows}" "${top}")
  run_unread("1 distinct words\n       1  a\n"
    "wordfreq: ${in}/missing: No such file or directory\n"
    ${EXE} ${in}/missing ${in}/a.txt)

else()
  run(out ${EXE} ${in}/words.txt)
endif()
