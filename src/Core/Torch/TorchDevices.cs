using Microsoft.ML;
using TorchSharp;

namespace MLNetExtensions.Core.Torch;

/// <summary>Device selection: an explicit option wins, then MLContext's GpuDeviceId/FallbackToCpu, then CPU.</summary>
public static class TorchDevices
{
    /// <summary>Parses <c>cpu</c>, <c>cuda</c>, <c>cuda:N</c>, <c>auto</c> or null; throws on anything else.</summary>
    public static (string Kind, int Index)? Parse(string? device)
    {
        if (string.IsNullOrWhiteSpace(device)) return null;
        var d = device.Trim().ToLowerInvariant();
        if (d is "cpu" or "auto" or "cuda") return (d, 0);
        if (d.StartsWith("cuda:") && int.TryParse(d[5..], out var i) && i >= 0) return ("cuda", i);
        throw new ArgumentException($"Device '{device}' is not one of cpu, cuda, cuda:N, auto.", nameof(device));
    }

    /// <summary>Resolves the device for training or for a loaded model.</summary>
    public static torch.Device Resolve(string? option, MLContext? context = null)
    {
        var p = Parse(option);
        if (p is { Kind: "cpu" }) return torch.CPU;
        if (p is { Kind: "auto" }) return torch.cuda.is_available() ? torch.CUDA : torch.CPU;
        if (p is { Kind: "cuda" } cuda)
        {
            if (!torch.cuda.is_available())
                throw new InvalidOperationException("Device 'cuda' was requested but CUDA is not available: reference a TorchSharp CUDA backend package (e.g. TorchSharp-cuda-linux) instead of TorchSharp-cpu, or set Device = \"cpu\".");
            return new torch.Device(DeviceType.CUDA, cuda.Index);
        }
        if (context?.GpuDeviceId is int id)
        {
            if (torch.cuda.is_available()) return new torch.Device(DeviceType.CUDA, id);
            if (!context.FallbackToCpu) throw new InvalidOperationException("MLContext.GpuDeviceId is set but CUDA is not available and MLContext.FallbackToCpu is false.");
        }
        return torch.CPU;
    }
}
