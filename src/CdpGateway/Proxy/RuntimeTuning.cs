using System.Reflection;
using System.Runtime.CompilerServices;

namespace CdpGateway.Proxy;

/// <summary>
/// Process-wide runtime settings that only an environment variable can switch, applied before any
/// socket exists so that <c>dotnet CdpGateway.dll</c> gets them as well as <c>./run</c>.
/// <para>
/// <c>DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1</c>: socket completions run on the epoll threads
/// instead of being queued to the thread pool, so a relayed message goes from one socket to the other
/// without a thread hop (on two cores each hop is a context switch; see bench/README.md, "Where the
/// gateway stands (last run) and what the profile says" and "Risks of the inline settings"). The price:
/// code after a socket await must not block, which the relay and the connection lifecycle never do. Set
/// the variable to <c>0</c> to turn it off.
/// </para>
/// Only when the gateway itself is the entry assembly: tests and benchmarks keep their host's settings.
/// </summary>
internal static class RuntimeTuning
{
    internal const string InlineCompletionsVariable = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";

    [ModuleInitializer]
    internal static void Initialize()
    {
        if (Assembly.GetEntryAssembly() != typeof(RuntimeTuning).Assembly)
        {
            return;
        }
        if (Environment.GetEnvironmentVariable(InlineCompletionsVariable) is null)
        {
            Environment.SetEnvironmentVariable(InlineCompletionsVariable, "1");
        }
    }
}
