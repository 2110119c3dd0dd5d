// Open MPI's C API for Swift. Its handles (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM, ...) are macros over
// the addresses of global structs, which Swift cannot import; these inline functions return them.
#include <mpi.h>

static inline MPI_Comm s2s_mpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Datatype s2s_mpi_float(void) { return MPI_FLOAT; }
static inline MPI_Datatype s2s_mpi_double(void) { return MPI_DOUBLE; }
static inline MPI_Datatype s2s_mpi_byte(void) { return MPI_BYTE; }
static inline MPI_Datatype s2s_mpi_int64(void) { return MPI_INT64_T; }
static inline MPI_Op s2s_mpi_sum(void) { return MPI_SUM; }
static inline MPI_Op s2s_mpi_max(void) { return MPI_MAX; }
static inline MPI_Op s2s_mpi_min(void) { return MPI_MIN; }
static inline void *s2s_mpi_in_place(void) { return MPI_IN_PLACE; }
static inline int s2s_mpi_thread_funneled(void) { return MPI_THREAD_FUNNELED; }
static inline MPI_Errhandler s2s_mpi_errors_return(void) { return MPI_ERRORS_RETURN; }
static inline MPI_Request s2s_mpi_request_null(void) { return MPI_REQUEST_NULL; }
static inline MPI_Status *s2s_mpi_status_ignore(void) { return MPI_STATUS_IGNORE; }
static inline MPI_Status *s2s_mpi_statuses_ignore(void) { return MPI_STATUSES_IGNORE; }
