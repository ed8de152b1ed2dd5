using System.Reflection;
using System.Text.RegularExpressions;

namespace CdpGateway.Tests.Support;

/// <summary>
/// One naming scheme for every test: words in PascalCase, an underscore only between clauses (a scenario id, the
/// situation, what must hold), each clause starting with a capital or a digit. A new test in another style fails here,
/// naming itself.
/// </summary>
public sealed partial class TestNamingTests
{
    [GeneratedRegex("^[A-Z0-9][A-Za-z0-9]*(_[A-Z0-9][A-Za-z0-9]*)*$")]
    private static partial Regex Scheme();

    [Fact]
    public void EveryTestIsNamedInTheOneScheme()
    {
        var tests = typeof(TestNamingTests).Assembly.GetTypes()
            .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly))
            .Where(m => m.GetCustomAttributes<FactAttribute>(inherit: true).Any())
            .ToList();

        Assert.True(tests.Count > 500, $"only {tests.Count} tests found: the scan is looking in the wrong place");
        Assert.Empty(tests.Where(m => !Scheme().IsMatch(m.Name)).Select(m => $"{m.DeclaringType!.Name}.{m.Name}"));
    }
}
