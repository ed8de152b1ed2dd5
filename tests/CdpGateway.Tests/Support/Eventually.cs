using System.Diagnostics;

namespace CdpGateway.Tests.Support;

/// <summary>
/// The tests' one "poll until it holds" wait: checks a condition every few milliseconds until it holds, and fails
/// naming what never happened once the patience (generous, so a slow machine does not fail a test) is spent.
/// For something that must <em>not</em> happen, this is no help: drive a fake clock to an exact point or await a signal.
/// </summary>
public static class Eventually
{
    /// <summary>How long a condition may take to hold unless a test says otherwise.</summary>
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(10);

    /// <summary>Returns once <paramref name="condition"/> holds; fails with <paramref name="what"/> if it never does.</summary>
    public static Task TrueAsync(Func<bool> condition, string what, TimeSpan? patience = null) =>
        TrueAsync(() => Task.FromResult(condition()), () => what, patience);

    /// <summary>As <see cref="TrueAsync(Func{bool}, string, TimeSpan?)"/>, for a condition that has to wait to be answered.</summary>
    public static Task TrueAsync(Func<Task<bool>> condition, string what, TimeSpan? patience = null) =>
        TrueAsync(condition, () => what, patience);

    /// <summary>As <see cref="TrueAsync(Func{bool}, string, TimeSpan?)"/>; <paramref name="what"/> is asked only on failure (for state to show then).</summary>
    public static Task TrueAsync(Func<bool> condition, Func<string> what, TimeSpan? patience = null) =>
        TrueAsync(() => Task.FromResult(condition()), what, patience);

    /// <summary>As <see cref="TrueAsync(Func{Task{bool}}, string, TimeSpan?)"/>; <paramref name="what"/> is asked only on failure.</summary>
    public static async Task TrueAsync(Func<Task<bool>> condition, Func<string> what, TimeSpan? patience = null)
    {
        var limit = patience ?? Patience;
        var waited = Stopwatch.StartNew();
        while (!await condition())
        {
            if (waited.Elapsed > limit)
            {
                Assert.Fail($"never happened within {limit.TotalSeconds:0.###} s: {what()}");
            }
            await Task.Delay(Interval);
        }
    }
}
