using System.Text.Json;
using CdpGateway.Browser;
using CsCheck;

namespace CdpGateway.Tests.Fuzz;

public class RuntimeFlagsProperties
{
    private static readonly Gen<string> Flags =
        Gen.OneOf(
            Gen.Const("--headless"), Gen.Const("--lang=en"), Gen.Const("--remote-debugging-port=1"), Gen.Const("--user-data-dir=/tmp/x"),
            Gen.Const("--"), Gen.Const("-x"), Gen.Const(""), Gen.Const("--a b"), Gen.Const("--a=b c"), Gen.Const("--x\n"),
            Gen.String[0, 20].Select(s => "--" + s), Gen.String[0, 20]);

    private static readonly Gen<string> Bodies =
        Gen.Select(Flags.Array[0, 6], Gen.Int[0, 5]).Select((flags, shape) => shape switch
        {
            0 => "[]",
            1 => "{\"flags\":" + JsonSerializer.Serialize(flags[..Math.Min(1, flags.Length)].FirstOrDefault() ?? "") + "}",
            2 => "{\"flags\":[" + string.Join(",", flags.Select(f => JsonSerializer.Serialize(f)).Append("1")) + "]}",
            3 => "{\"other\":" + JsonSerializer.Serialize(flags) + "}",
            _ => "{\"flags\":" + JsonSerializer.Serialize(flags) + "}",
        });

    [Fact]
    public void AFlagListIsTakenExactlyWhenEveryEntryIsAStringThatPassesTheCheck() =>
        Bodies.Sample(text =>
        {
            using var document = JsonDocument.Parse(text);
            var root = document.RootElement;
            var flags = RuntimeFlags.Parse(root, out var error);
            Assert.Equal(flags is null, error is not null);
            bool expected = root.ValueKind == JsonValueKind.Object && root.TryGetProperty("flags", out var list) &&
                list.ValueKind == JsonValueKind.Array &&
                list.EnumerateArray().All(item => item.ValueKind == JsonValueKind.String && RuntimeFlags.Check(item.GetString()!) is null);
            Assert.Equal(expected, flags is not null);
            if (flags is not null)
            {
                Assert.Equal(root.GetProperty("flags").EnumerateArray().Select(item => item.GetString()), flags);
                Assert.All(flags, flag => Assert.StartsWith("--", flag, StringComparison.Ordinal));
                Assert.All(flags, flag => Assert.DoesNotContain(flag, char.IsControl));
            }
        }, iter: FuzzRuns.FewIterations, print: text => text);

    [Fact]
    public void AnyFlagIsCheckedWithoutThrowing() =>
        Flags.Sample(flag =>
        {
            if (RuntimeFlags.Check(flag) is null)
            {
                Assert.StartsWith("--", flag, StringComparison.Ordinal);
            }
        }, iter: FuzzRuns.FewIterations, print: flag => JsonSerializer.Serialize(flag));
}
