using System.Runtime.CompilerServices;

// bench/Micro drives the command worker synchronously (CdpCommandWorker.CreateManual) to measure a command's
// whole cost on one thread.
[assembly: InternalsVisibleTo("Micro")]
