/*
 * wall_page.c — see wall_page.h. The segment ends come from the font itself
 * (wall_segment_ends), written into the page, so the browser's wall cannot drift from
 * the SVG backend's; the few layout constants below are svg.c's.
 */
#include "wall_page.h"

#include <string.h>

#include "wall.h"

void wall_page_html(strbuf *sb, int cols, int rows, const char *events_path)
{
    sb_puts(sb,
            "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>latent wall</title>\n"
            "<meta name=\"viewport\" content=\"width=device-width\">\n"
            "<style>html,body{margin:0;height:100%;background:#000}"
            "body{display:flex;align-items:center;justify-content:center}"
            "svg{max-width:100vw;max-height:100vh}"
            ".s{fill:none;stroke:#ff8c28;stroke-opacity:.09;stroke-width:6;stroke-linecap:round}"
            ".s.on{stroke:#ffa548;stroke-opacity:1;filter:url(#glow)}</style></head>\n<body>\n"
            /* a horizontal segment has no height: a filter region relative to its box
             * would be empty, so the glow gets a fixed region in user space */
            "<svg id=\"wall\" xmlns=\"http://www.w3.org/2000/svg\">"
            "<defs><filter id=\"glow\" filterUnits=\"userSpaceOnUse\" x=\"-100\" y=\"-100\" width=\"10000\" height=\"10000\">"
            "<feGaussianBlur stdDeviation=\"3.5\" result=\"blur\"/><feMerge><feMergeNode in=\"blur\"/>"
            "<feMergeNode in=\"blur\"/><feMergeNode in=\"SourceGraphic\"/></feMerge></filter></defs></svg>\n"
            "<script>\n");
    sb_printf(sb, "const COLS=%d, ROWS=%d, EVENTS=", cols, rows);
    json_write_string(sb, events_path, strlen(events_path));
    sb_puts(sb, ";\nconst ENDS=[");
    for (int s = 0; s < 16; s++) {
        int e[4];
        wall_segment_ends(s, e);
        sb_printf(sb, "%s[%d,%d,%d,%d]", s ? "," : "", e[0], e[1], e[2], e[3]);
    }
    /* svg.c's geometry: grid steps, module pitch, margin, gap at segment ends, lean */
    sb_puts(sb,
            "];\nconst UX=18, UY=30, PX=58, PY=88, M=28, GAP=4.5, SLANT=0.14;\n"
            "const NS='http://www.w3.org/2000/svg', svg=document.getElementById('wall');\n"
            "const W=2*M+(COLS-1)*PX+2*UX+12, H=2*M+(ROWS-1)*PY+2*UY;\n"
            "svg.setAttribute('viewBox','0 0 '+W+' '+H); svg.setAttribute('width',W); svg.setAttribute('height',H);\n"
            "const plate=document.createElementNS(NS,'rect');\n"
            "plate.setAttribute('width',W); plate.setAttribute('height',H); plate.setAttribute('rx',12);\n"
            "plate.setAttribute('fill','#0c0c0e'); svg.appendChild(plate);\n"
            "function pt(r,c,x,y){return [M+c*PX+x*UX+(1-y)*UY*SLANT, M+r*PY+y*UY];}\n"
            "function seg(d){const p=document.createElementNS(NS,'path');p.setAttribute('d',d);"
            "p.setAttribute('class','s');svg.appendChild(p);return p;}\n"
            "const mods=[];\n"
            "for(let r=0;r<ROWS;r++)for(let c=0;c<COLS;c++){const m=[];\n"
            " for(let s=0;s<16;s++){const e=ENDS[s],a=pt(r,c,e[0],e[1]),b=pt(r,c,e[2],e[3]);\n"
            "  const dx=b[0]-a[0],dy=b[1]-a[1],k=GAP/Math.hypot(dx,dy);\n"
            "  m.push(seg('M'+(a[0]+dx*k).toFixed(1)+' '+(a[1]+dy*k).toFixed(1)+'L'+(b[0]-dx*k).toFixed(1)+' '+"
            "(b[1]-dy*k).toFixed(1)));}\n"
            " const d=pt(r,c,2.45,2);m.push(seg('M'+d[0].toFixed(1)+' '+d[1].toFixed(1)+'l0 0'));mods.push(m);}\n"
            "function show(line){const v=line.trim().split(' ');if(v.length!==COLS*ROWS)return;\n"
            " for(let k=0;k<v.length;k++){const x=parseInt(v[k],16);"
            "for(let s=0;s<17;s++)mods[k][s].classList.toggle('on',((x>>s)&1)===1);}\n"
            " svg.dataset.frame=line;}\n"
            "const es=new EventSource(EVENTS);\n"
            "es.onmessage=function(e){show(e.data);};\n"
            "es.onopen=function(){document.body.dataset.connected='1';};\n"
            "es.onerror=function(){document.body.dataset.connected='0';};\n"
            "</script>\n</body></html>\n");
}

void wall_frame_event(strbuf *sb, unsigned long id, const uint32_t *masks, size_t n)
{
    sb_printf(sb, "id: %lu\ndata: ", id);
    for (size_t k = 0; k < n; k++)
        sb_printf(sb, k ? " %05x" : "%05x", (unsigned)masks[k]);
    sb_puts(sb, "\n\n");
}
