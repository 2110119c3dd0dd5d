// oneDNN (Debian's libdnnl-dev, the OpenMP build): its C API, for the int8 products of many rows.
#include <oneapi/dnnl/dnnl.h>
