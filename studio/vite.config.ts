/// <reference types="vitest/config" />
import tailwindcss from "@tailwindcss/vite";
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// `vite dev` proxies the API to a running `dakora serve` (DAKORA_URL, default the
// port `make run` uses), so the Studio talks to the real server while developing.
const target = process.env.DAKORA_URL ?? "http://127.0.0.1:54321";

export default defineConfig({
  base: "/studio/",
  plugins: [react(), tailwindcss()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 800,
  },
  server: {
    proxy: { "/api": { target, changeOrigin: false } },
  },
  test: {
    environment: "node",
    include: ["src/**/*.test.ts"],
  },
});
