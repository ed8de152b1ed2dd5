using System.Text;
using System.Text.Json;

namespace CdpGateway.Telemetry.Commands;

/// <summary>A connection id as <c>connection_id</c> reports it: clipped like an opaque id, encoded once per connection.</summary>
internal static class CdpConnectionIdText
{
    public static JsonEncodedText Encode(string connectionId) => JsonEncodedText.Encode(Clip(connectionId));

    /// <summary>A string of ours clipped like an opaque id, at a scalar boundary so the clip is still valid text.</summary>
    private static string Clip(string value)
    {
        if (value.Length <= CdpVocabulary.MaxOpaqueIdBytes / 3 ||
            Encoding.UTF8.GetByteCount(value) <= CdpVocabulary.MaxOpaqueIdBytes)
        {
            return value;
        }
        var clipped = new StringBuilder(CdpVocabulary.MaxOpaqueIdBytes);
        int bytes = 0;
        foreach (Rune rune in value.EnumerateRunes())
        {
            bytes += rune.Utf8SequenceLength;
            if (bytes > CdpVocabulary.MaxOpaqueIdBytes)
            {
                break;
            }
            clipped.Append(rune.ToString());
        }
        return clipped.ToString();
    }
}
