// The MPI group in a build without MPI (CMake did not find it, or PIANOGRAD_MPI=OFF): the
// single-process group still works; asking for MPI explains what is missing.
#include "autodiff/distributed/process_group.h"

namespace pianograd {

bool mpi_built() { return false; }

namespace detail {
std::shared_ptr<ProcessGroup> make_mpi_group(double) {
  throw DistributedError(
      "init_process_group: this build has no MPI support; install Open MPI (Debian: libopenmpi-dev "
      "openmpi-bin, which `make test` installs) and reconfigure with -DPIANOGRAD_MPI=ON");
}
}  // namespace detail

}  // namespace pianograd
