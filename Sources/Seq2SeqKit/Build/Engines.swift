/// The optional engines compiled into this build: the package traits `OneDNN` and `MPI` (on by
/// default; `swift build --disable-default-traits` leaves both out).
public enum Engines {
    /// oneDNN's float32, bf16 and int8 products.
    public static var oneDNN: Bool {
        #if OneDNN
        return true
        #else
        return false
        #endif
    }

    /// Data-parallel training under mpirun (Open MPI).
    public static var mpi: Bool {
        #if MPI
        return true
        #else
        return false
        #endif
    }

    /// "oneDNN, MPI", or "none (OpenBLAS products, one process)".
    public static var summary: String {
        let names = (oneDNN ? ["oneDNN"] : []) + (mpi ? ["MPI"] : [])
        return names.isEmpty ? "none (OpenBLAS products, one process)" : names.joined(separator: ", ")
    }
}
