# `cmake --install` exports a package: find_package(pianograd) -> pianograd::pianograd.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS pianograd EXPORT pianogradTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
# Public headers keep their folder layout under include/pianograd/ (kernels' ISA bodies stay private).
foreach(dir autodiff kernels/common kernels/cpu synth models)
  if(EXISTS ${PROJECT_SOURCE_DIR}/${dir})
    install(DIRECTORY ${PROJECT_SOURCE_DIR}/${dir}/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/pianograd/${dir}
            FILES_MATCHING PATTERN "*.h" PATTERN "*_simd.h" EXCLUDE)
  endif()
endforeach()
install(FILES ${PROJECT_SOURCE_DIR}/pianograd.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/pianograd)
install(EXPORT pianogradTargets NAMESPACE pianograd:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/pianograd)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/pianogradConfig.cmake.in
  ${PROJECT_BINARY_DIR}/pianogradConfig.cmake INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/pianograd)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/pianogradConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/pianogradConfig.cmake ${PROJECT_BINARY_DIR}/pianogradConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/pianograd)
