import { defineConfig } from 'vite';

// Served by the API at /console/ (embedded in the binary): no inline scripts,
// nothing fetched from anywhere else at run time.
export default defineConfig({
  base: '/console/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    sourcemap: false,
  },
  server: {
    // `npm run dev` next to a running API (emledger up): the API on 127.0.0.1:8080
    proxy: { '/api': 'http://127.0.0.1:8080', '/health': 'http://127.0.0.1:8080' },
  },
});
