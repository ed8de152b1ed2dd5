using System.Text;
using System.Text.Json;
using CdpGateway.Telemetry.Commands;
using CsCheck;

namespace CdpGateway.Tests.Fuzz;

public class JsonStringTextProperties
{
    /// <summary>The raw content of a JSON string token (between the quotes) and System.Text.Json's reading of it, when it has one.</summary>
    private static (byte[] Content, string? Decoded) Read(int[] draws)
    {
        var text = Encoding.UTF8.GetBytes(new JsonText(draws).String());
        var reader = new Utf8JsonReader(text);
        reader.Read();
        string? decoded;
        try
        {
            decoded = reader.GetString();
        }
        catch (InvalidOperationException)
        {
            decoded = null;
        }
        return (text[1..^1], decoded);
    }

    private static readonly Gen<(byte[] Content, string? Decoded)> Strings = JsonText.Draws.Select(Read);

    [Fact]
    public void TheLengthOfAStringIsTheLengthSystemTextJsonDecodes() =>
        Strings.Sample(s =>
        {
            if (s.Decoded is { } decoded)
            {
                Assert.Equal(decoded.Length, JsonStringText.Utf16Length(s.Content));
            }
            else
            {
                Assert.InRange(JsonStringText.Utf16Length(s.Content), 1, s.Content.Length);
            }
        }, iter: FuzzRuns.Iterations, print: s => Encoding.UTF8.GetString(s.Content));

    [Fact]
    public void AClippedStringIsAPrefixOfTheDecodedOneWithinItsBound() =>
        Gen.Select(Strings, Gen.Int[0, 40]).Sample((s, bound) =>
        {
            var clipped = JsonStringText.Clip(s.Content, bound);
            Assert.InRange(Encoding.UTF8.GetByteCount(clipped), 0, bound);
            if (s.Decoded is { } decoded)
            {
                Assert.StartsWith(clipped, decoded, StringComparison.Ordinal);
                if (Encoding.UTF8.GetByteCount(decoded) <= bound)
                {
                    Assert.Equal(decoded, clipped);
                }
            }
        }, iter: FuzzRuns.Iterations, print: s => Encoding.UTF8.GetString(s.Item1.Content));

    [Fact]
    public void AShortDecodeIsSystemTextJsonsWhenItFits() =>
        Gen.Select(Strings, Gen.Int[0, 20]).Sample((s, room) =>
        {
            var destination = new char[room];
            if (JsonStringText.TryDecodeShort(s.Content, destination, out int written))
            {
                Assert.InRange(written, 0, room);
                if (s.Decoded is { } decoded)
                {
                    Assert.Equal(decoded, new string(destination, 0, written));
                }
            }
            else if (s.Decoded is { } decoded)
            {
                Assert.True(decoded.Length > room);
            }
        }, iter: FuzzRuns.Iterations, print: s => Encoding.UTF8.GetString(s.Item1.Content));
}
