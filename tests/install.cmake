# install.cmake - the `install` test (included from tests/CMakeLists.txt):
# install this build into a scratch prefix and build examples/wordfreq.c
# against it from outside, with pkg-config and with find_package(jobrun);
# tests/test_install.sh does the work.
find_program(JR_SH sh)
if(NOT JR_SH)
  message(STATUS "no sh: the install test is left out")
  return()
endif()
add_test(NAME install
  COMMAND ${JR_SH} ${CMAKE_CURRENT_LIST_DIR}/test_install.sh
          ${PROJECT_BINARY_DIR} ${PROJECT_SOURCE_DIR} ${PROJECT_VERSION}
          ${CMAKE_INSTALL_LIBDIR} ${CMAKE_INSTALL_INCLUDEDIR})
set_tests_properties(install PROPERTIES
  TIMEOUT 300
  ENVIRONMENT "CMAKE=${CMAKE_COMMAND};CC=${CMAKE_C_COMPILER};NM=${CMAKE_NM};READELF=${CMAKE_READELF};PKG_CONFIG=${PKG_CONFIG_EXECUTABLE};JR_CONFIG=$<CONFIG>;JR_SANITIZE=${JOBRUN_SANITIZE}")
