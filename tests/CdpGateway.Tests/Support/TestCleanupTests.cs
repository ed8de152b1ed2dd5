using System.Reflection;

namespace CdpGateway.Tests.Support;

/// <summary>
/// xUnit 2 disposes a test class through <see cref="IDisposable"/> or <see cref="IAsyncLifetime"/> only: a class that
/// cleans up in <see cref="IAsyncDisposable.DisposeAsync"/> alone is never cleaned up, and leaves its gateways, browsers
/// and servers running until the test process exits. A new one fails here, naming itself.
/// </summary>
public sealed class TestCleanupTests
{
    [Fact]
    public void NoTestClassCleansUpInIAsyncDisposableAlone()
    {
        var testClasses = typeof(TestCleanupTests).Assembly.GetTypes()
            .Where(t => t.GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.DeclaredOnly)
                .Any(m => m.GetCustomAttributes<FactAttribute>(inherit: true).Any()))
            .ToList();

        Assert.True(testClasses.Count > 100, $"only {testClasses.Count} test classes found: the scan is looking in the wrong place");
        Assert.Empty(testClasses
            .Where(t => typeof(IAsyncDisposable).IsAssignableFrom(t) && !typeof(IAsyncLifetime).IsAssignableFrom(t) && !typeof(IDisposable).IsAssignableFrom(t))
            .Select(t => t.Name));
    }
}
