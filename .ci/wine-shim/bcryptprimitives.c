/*
 * bcryptprimitives.dll for CI's Wine only; never shipped.
 *
 * Rust's standard library draws its random numbers (HashMap keys) from ProcessPrng in
 * bcryptprimitives.dll. Wine 8 as packaged by Debian has no such DLL, so the Windows binary
 * cannot load under it. This DLL, placed beside the .exe, exports ProcessPrng on top of
 * RtlGenRandom (advapi32's SystemFunction036), which Wine does have.
 */
#include <windows.h>
#include <ntsecapi.h>

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG chunk = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (!RtlGenRandom(data, chunk))
            return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
